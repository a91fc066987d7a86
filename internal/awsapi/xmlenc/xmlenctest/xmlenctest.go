// Package xmlenctest checks xmlenc against encoding/xml: it fills values of
// any type with pseudo-random contents that probe the escaping and
// omitempty edges, and compares what both encoders write for them.
package xmlenctest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/privlink/privlink/internal/awsapi/xmlenc"
)

// ElementName is the element both encoders wrap values in.
const ElementName = "R"

// Compare encodes v with enc and with encoding/xml's EncodeElement. It
// returns nil when both write the same bytes and neither fails, an error
// wrapping xmlenc.ErrUnsupported when enc refuses v's type, and otherwise
// an error locating the first difference.
func Compare(enc *xmlenc.Encoder, v any) error {
	fast, fastErr := enc.AppendElement(nil, ElementName, v)
	if errors.Is(fastErr, xmlenc.ErrUnsupported) {
		return fastErr
	}
	var buf bytes.Buffer
	stdErr := xml.NewEncoder(&buf).EncodeElement(v, xml.StartElement{Name: xml.Name{Local: ElementName}})
	switch {
	case fastErr != nil || stdErr != nil:
		if fastErr == nil || stdErr == nil {
			return fmt.Errorf("xmlenc error %v, encoding/xml error %v", fastErr, stdErr)
		}
		return nil
	case !bytes.Equal(fast, buf.Bytes()):
		return diff(fast, buf.Bytes())
	}
	return nil
}

// diff describes where fast first departs from want.
func diff(fast, want []byte) error {
	i := 0
	for i < len(fast) && i < len(want) && fast[i] == want[i] {
		i++
	}
	from := max(0, i-60)
	return fmt.Errorf("outputs differ at byte %d:\n xmlenc:       %q\n encoding/xml: %q",
		i, fast[from:min(len(fast), i+60)], want[from:min(len(want), i+60)])
}

// CheckType fills fresh values of t (a struct type) from seed, iterations
// times, and fails tb at the first value whose encodings differ, passing
// both the pointer and the value itself as the top-level body. A type enc
// refuses fails the check unless wantFallback is set, and vice versa.
func CheckType(tb testing.TB, enc *xmlenc.Encoder, t reflect.Type, wantFallback bool, seed uint64, iterations int) {
	tb.Helper()
	err := enc.Supports(reflect.PointerTo(t))
	if wantFallback != (err != nil) {
		tb.Fatalf("%v: want fallback %v, Supports says %v", t, wantFallback, err)
	}
	if err != nil && !errors.Is(err, xmlenc.ErrUnsupported) {
		tb.Fatalf("%v: %v", t, err)
	}
	r := rand.New(rand.NewPCG(seed, uint64(iterations)))
	for i := range iterations {
		p := reflect.New(t)
		Fill(r, p.Elem())
		for _, v := range []any{p.Interface(), p.Elem().Interface()} {
			if err := Compare(enc, v); err != nil && !(wantFallback && errors.Is(err, xmlenc.ErrUnsupported)) {
				tb.Fatalf("%v, iteration %d: %v\nvalue: %+v", t, i, err, p.Elem().Interface())
			}
		}
	}
}

// CheckTypes checks each of types with CheckType in its own subtest, 300
// random values each, none allowed to fall back to encoding/xml.
func CheckTypes(t *testing.T, types ...reflect.Type) {
	t.Helper()
	var enc xmlenc.Encoder
	for i, typ := range types {
		t.Run(typ.Name(), func(t *testing.T) {
			CheckType(t, &enc, typ, false, uint64(i), 300)
		})
	}
}

// CheckBody checks a value a handler returned: the value itself, then
// random values of its type. It returns the struct type checked.
func CheckBody(tb testing.TB, enc *xmlenc.Encoder, body any, wantFallback bool, seed uint64, iterations int) reflect.Type {
	tb.Helper()
	if err := Compare(enc, body); err != nil && !(wantFallback && errors.Is(err, xmlenc.ErrUnsupported)) {
		tb.Fatalf("%T: %v", body, err)
	}
	t := reflect.TypeOf(body)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	CheckType(tb, enc, t, wantFallback, seed, iterations)
	return t
}

// maxDepth bounds recursion through pointers and slices of recursive types.
const maxDepth = 6

// Fill sets every settable part of v to pseudo-random contents drawn from
// r: strings with markup, control characters, invalid UTF-8 and runes
// outside XML's range; boundary numbers; nil, empty and short slices; nil
// and set pointers. Maps, interfaces, channels and functions stay zero.
func Fill(r *rand.Rand, v reflect.Value) {
	fill(r, v, 0)
}

func fill(r *rand.Rand, v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			fill(r, v.Field(i), depth)
		}
		return
	case reflect.Array:
		for i := range v.Len() {
			fill(r, v.Index(i), depth)
		}
		return
	}
	if !v.CanSet() {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if depth < maxDepth && r.IntN(3) != 0 {
			v.Set(reflect.New(v.Type().Elem()))
			fill(r, v.Elem(), depth+1)
		}
	case reflect.Slice:
		fillSlice(r, v, depth)
	case reflect.String:
		v.SetString(String(r))
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 1)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(Int(r, v.Type().Bits()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(uint64(Int(r, v.Type().Bits())) & (math.MaxUint64 >> (64 - v.Type().Bits())))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(Float(r))
	}
}

// fillSlice leaves v nil, makes it empty but not nil, or gives it up to
// three elements.
func fillSlice(r *rand.Rand, v reflect.Value, depth int) {
	switch n := r.IntN(6); {
	case n == 0 || depth >= maxDepth:
	case n == 1:
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
	default:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			// Bytes get string contents, element by element, as the
			// element type may be a named byte type.
			s := String(r)
			b := reflect.MakeSlice(v.Type(), len(s), len(s))
			for i := range len(s) {
				b.Index(i).SetUint(uint64(s[i]))
			}
			v.Set(b)
			return
		}
		s := reflect.MakeSlice(v.Type(), n-1, n-1)
		for i := range n - 1 {
			fill(r, s.Index(i), depth+1)
		}
		v.Set(s)
	}
}

// pieces are the fragments random strings are made of: plain text, every
// character encoding/xml escapes, bytes that are not UTF-8, runes outside
// XML's Char range and a genuine U+FFFD.
var pieces = []string{
	"", "a", "subnet-0123456789abcdef0", "10.0.0.0/24", " ", "  x  ",
	"<", ">", "&", "'", "\"", "\t", "\n", "\r", "\r\n", "&amp;", "]]>", "<!--",
	"\x00", "\x01", "\x1f", "\x7f", "\x80", "\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80",
	"é", "€", "日本", "\U0001F600", "\uFFFD", "\uFFFE", "\uFFFF", "\u2028", "\U0010FFFF",
	"\xf4\x90\x80\x80", "\xc0\xaf",
}

// String returns a pseudo-random string: often empty, else a few pieces.
func String(r *rand.Rand) string {
	if r.IntN(4) == 0 {
		return ""
	}
	var b []byte
	for range 1 + r.IntN(5) {
		b = append(b, pieces[r.IntN(len(pieces))]...)
	}
	return string(b)
}

// Int returns zero, a boundary or a random value of a bits-wide integer.
func Int(r *rand.Rand, bits int) int64 {
	lim := int64(math.MaxInt64 >> (64 - bits))
	switch r.IntN(5) {
	case 0:
		return 0
	case 1:
		return lim
	case 2:
		return -lim - 1
	}
	return r.Int64N(lim) - r.Int64N(lim)
}

// Float returns zero, negative zero, an infinity, NaN, or a random value
// across magnitudes.
func Float(r *rand.Rand) float64 {
	switch r.IntN(8) {
	case 0:
		return 0
	case 1:
		return math.Copysign(0, -1)
	case 2:
		return math.Inf(1 - 2*r.IntN(2))
	case 3:
		return math.NaN()
	case 4:
		return math.SmallestNonzeroFloat64
	}
	return (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(80)-40))
}
