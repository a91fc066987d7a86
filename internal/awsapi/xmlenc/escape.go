package xmlenc

import "unicode/utf8"

// asciiEscapes holds encoding/xml's replacement of each ASCII byte in
// character data ("" when the byte is written as is): the five markup
// characters, tab and line breaks as character references (so they survive
// attribute-value normalisation), and control characters XML cannot carry
// as U+FFFD.
var asciiEscapes = func() (t [utf8.RuneSelf]string) {
	for c := range byte(0x20) {
		t[c] = "\uFFFD"
	}
	t['\t'] = "&#x9;"
	t['\n'] = "&#xA;"
	t['\r'] = "&#xD;"
	t['"'] = "&#34;"
	t['\''] = "&#39;"
	t['&'] = "&amp;"
	t['<'] = "&lt;"
	t['>'] = "&gt;"
	return t
}()

// plainASCII marks the bytes copied as they are: ASCII without an entry
// in asciiEscapes. Bytes of multi-byte runes are not plain; they are
// decoded and checked.
var plainASCII = func() (t [256]bool) {
	for c := range utf8.RuneSelf {
		t[c] = asciiEscapes[c] == ""
	}
	return t
}()

// appendEscaped appends s escaped exactly as encoding/xml's EscapeText and
// printer.EscapeString escape character data: bytes of invalid UTF-8 and
// runes outside XML's Char production become U+FFFD, a genuine U+FFFD is
// kept. Runs that need no escaping are copied in one append.
func appendEscaped(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plainASCII[c] {
			i++
			continue
		}
		esc, width := escapeAt(s, i, c)
		if esc != "" {
			b = append(append(b, s[last:i]...), esc...)
			last = i + width
		}
		i += width
	}
	return append(b, s[last:]...)
}

// escapeAt returns the replacement of the character starting with byte c
// at s[i], "" to keep it, and its width.
func escapeAt(s string, i int, c byte) (string, int) {
	if c < utf8.RuneSelf {
		return asciiEscapes[c], 1
	}
	r, width := utf8.DecodeRuneInString(s[i:])
	if (r == utf8.RuneError && width == 1) || !isInCharacterRange(r) {
		return "\uFFFD", width
	}
	return "", width
}

// isInCharacterRange is XML's Char production, as encoding/xml tests it.
func isInCharacterRange(r rune) bool {
	return r == 0x09 ||
		r == 0x0A ||
		r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
