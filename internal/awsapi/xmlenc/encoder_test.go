package xmlenc_test

import (
	"encoding/xml"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/awsapi/xmlenc"
	"github.com/privlink/privlink/internal/awsapi/xmlenc/xmlenctest"
)

// Types covering each supported feature. Field names say what they probe.

type scalars struct {
	S     string  `xml:"s"`
	B     bool    `xml:"b"`
	I     int     `xml:"i"`
	I8    int8    `xml:"i8"`
	I16   int16   `xml:"i16"`
	I32   int32   `xml:"i32"`
	I64   int64   `xml:"i64"`
	U     uint    `xml:"u"`
	U8    uint8   `xml:"u8"`
	U16   uint16  `xml:"u16"`
	U32   uint32  `xml:"u32"`
	U64   uint64  `xml:"u64"`
	UP    uintptr `xml:"up"`
	F32   float32 `xml:"f32"`
	F64   float64 `xml:"f64"`
	Name  label   `xml:"name"`
	NoTag string
}

type label string

type omitted struct {
	S   string            `xml:"s,omitempty"`
	B   bool              `xml:"b,omitempty"`
	I   int               `xml:"i,omitempty"`
	I8  int8              `xml:"i8,omitempty"`
	U   uint              `xml:"u,omitempty"`
	U64 uint64            `xml:"u64,omitempty"`
	UP  uintptr           `xml:"up,omitempty"`
	F32 float32           `xml:"f32,omitempty"`
	F64 float64           `xml:"f64,omitempty"`
	P   *string           `xml:"p,omitempty"`
	PP  **int             `xml:"pp,omitempty"`
	L   []string          `xml:"l,omitempty"`
	LB  []byte            `xml:"lb,omitempty"`
	St  struct{ X int }   `xml:"st,omitempty"`
	PSt *struct{ X bool } `xml:"pst,omitempty"`
	Odd string            `xml:"odd,omitempty,unknownoption"`
}

type pointers struct {
	P    *string  `xml:"p"`
	PP   **string `xml:"pp"`
	PI   *int     `xml:"pi"`
	PSt  *leaf    `xml:"pst"`
	PL   *[]int   `xml:"pl,omitempty"`
	Last string   `xml:"last"`
}

type leaf struct {
	K string `xml:"key"`
	V string `xml:"value,omitempty"`
}

type slices struct {
	Strs    []string   `xml:"set>item"`
	Empty   []string   `xml:"emptySet>item"`
	Omit    []string   `xml:"omitSet>item,omitempty"`
	Nested  [][]string `xml:"nested>item,omitempty"`
	Ptrs    []*leaf    `xml:"ptrs>item"`
	Leaves  []leaf     `xml:"leaf"`
	Bytes   []byte     `xml:"bytes"`
	Raw     rawBytes   `xml:"raw"`
	MyBytes []myByte   `xml:"mybytes"`
	ByteSet [][]byte   `xml:"byteSet>item"`
	Bools   []bool     `xml:"bool,omitempty"`
	Floats  []float32  `xml:"float"`
	Named   names      `xml:"named>member"`
	Structs []struct {
		A int      `xml:"a"`
		B []string `xml:"bs>b"`
	} `xml:"structs>item"`
}

type rawBytes []byte

type myByte uint8

type names []string

// parents probes how encoding/xml opens and shares a>b>c parents.
type parents struct {
	A    string   `xml:"a>b>c"`
	B    string   `xml:"a>b>d"`
	C    *string  `xml:"a>e"`
	D    string   `xml:"a>f,omitempty"`
	E    int      `xml:"top"`
	F    *leaf    `xml:"x>y"`
	G    string   `xml:"x>z"`
	H    []string `xml:"x>list>item,omitempty"`
	I    string   `xml:">own"`
	J    *int     `xml:"y>nil"`
	K    string   `xml:"y>set,omitempty"`
	L    *leaf    `xml:"q>nil"` // a nil pointer alone opens no parent
	Last string   `xml:"x>last"`
}

type Base struct {
	ID   string `xml:"id"`
	Tags []leaf `xml:"tagSet>item,omitempty"`
}

type inner struct {
	Visible string `xml:"visible"`
	hidden  string
}

type Extra struct {
	Flag  bool   `xml:"tagSet>flag"`
	Extra string `xml:"extra,omitempty"`
}

type innerPtr struct {
	Deep string `xml:"deep>er"`
}

type Tagged struct {
	T string `xml:"t"`
}

type embedded struct {
	Base
	inner
	*Extra
	*innerPtr
	Tagged `xml:"ignoredForEmbedded"` // encoding/xml flattens embedded structs whatever the tag
	After  string                     `xml:"after"`
}

type ignored struct {
	Tagged  `xml:"-"`
	Skip    string `xml:"-"`
	private string
	Kept    string `xml:"kept"`
	_       int
}

type withXMLName struct {
	XMLName xml.Name `xml:"Named"`
	V       string   `xml:"v"`
}

type otherXMLName struct {
	XMLName xml.Name `xml:"Other"`
	V       *int     `xml:"v"`
}

type namedHolder struct {
	XMLName  xml.Name      `xml:"ignoredAtTop"`
	ByType   withXMLName   // no tag: the type's XMLName names it
	ByTag    *otherXMLName `xml:"Other"`
	ListItem []withXMLName `xml:"list>item"` // the element's XMLName wins over item
	Any      struct{}      `xml:"empty"`
}

type node struct {
	Name     string `xml:"name"`
	Children []node `xml:"children>node,omitempty"`
	Next     *node  `xml:"next"`
}

type list[T any] struct {
	Items []T `xml:"item"`
}

type generic struct {
	Strings list[string] `xml:"strings"`
	Leaves  list[leaf]   `xml:"leaves"`
}

type empty struct{}

func ptr[T any](v T) *T { return &v }

// supported are values of every supported feature; each must encode
// exactly as encoding/xml encodes it.
var supported = []struct {
	name  string
	value any
}{
	{"scalars zero", &scalars{}},
	{"scalars set", &scalars{S: "x", B: true, I: -1, I8: math.MinInt8, I16: math.MaxInt16, I32: -7, I64: math.MinInt64,
		U: 1, U8: 255, U16: 65535, U32: 7, U64: math.MaxUint64, UP: 9, F32: 0.1, F64: 1e21, Name: "n", NoTag: "t"}},
	{"floats special", &scalars{F32: float32(math.Inf(-1)), F64: math.NaN()}},
	{"floats small", &scalars{F32: math.SmallestNonzeroFloat32, F64: -1e-7}},
	{"float negative zero", &omitted{F64: math.Copysign(0, -1)}},
	{"omitempty all zero", &omitted{}},
	{"omitempty all set", &omitted{S: "s", B: true, I: 1, I8: -1, U: 1, U64: 1, UP: 1, F32: 1, F64: 1,
		P: ptr(""), PP: ptr(ptr(0)), L: []string{"", "x", ""}, LB: []byte("b"), PSt: &struct{ X bool }{}, Odd: "o"}},
	{"omitempty empty non-nil slices", &omitted{L: []string{}, LB: []byte{}}},
	{"nil pointers", &pointers{}},
	{"set pointers", &pointers{P: ptr("p"), PP: ptr(ptr("")), PI: ptr(0), PSt: &leaf{}, PL: &[]int{1, 2}, Last: "l"}},
	{"nil inner pointer", &pointers{PP: new(*string), PL: &[]int{}}},
	{"slices nil", &slices{}},
	{"slices set", &slices{
		Strs: []string{"a", "", "b"}, Empty: []string{}, Omit: []string{"", ""}, Nested: [][]string{{"x", ""}, nil, {}},
		Ptrs: []*leaf{nil, {K: "k"}, nil}, Leaves: []leaf{{}, {K: "a", V: "b"}}, Bytes: []byte("<&>"), Raw: rawBytes("\xff"), MyBytes: []myByte{'<', 0}, ByteSet: [][]byte{nil, []byte("&")},
		Bools: []bool{false, true}, Floats: []float32{1.5, -0}, Named: names{"n"},
		Structs: []struct {
			A int      `xml:"a"`
			B []string `xml:"bs>b"`
		}{{A: 1}, {B: []string{"x"}}},
	}},
	{"parents zero", &parents{}},
	{"parents set", &parents{A: "a", B: "b", C: ptr("c"), D: "d", E: 1, F: &leaf{K: "k"}, G: "g", H: []string{"h"},
		I: "i", J: ptr(1), K: "k", Last: "l"}},
	{"parents nil pointer between siblings", &parents{A: "a", D: "d", G: "g"}},
	{"embedded nil pointer", &embedded{Base: Base{ID: "id"}, inner: inner{Visible: "v", hidden: "h"}, After: "a"}},
	{"embedded set pointer", &embedded{Base: Base{Tags: []leaf{{K: "k"}}}, Extra: &Extra{Flag: true, Extra: "e"}}},
	{"embedded unexported pointer", &embedded{innerPtr: &innerPtr{Deep: "d"}, Tagged: Tagged{T: "t"}}},
	{"ignored fields", &ignored{Tagged: Tagged{T: "t"}, Skip: "s", private: "p", Kept: "k"}},
	{"XMLName names", &namedHolder{ByType: withXMLName{V: "a"}, ByTag: &otherXMLName{}, ListItem: []withXMLName{{V: "1"}, {}}}},
	{"recursive", &node{Name: "root", Children: []node{{Name: "a", Next: &node{Name: "b"}}, {}}, Next: &node{}}},
	{"generic", &generic{Strings: list[string]{Items: []string{"a"}}, Leaves: list[leaf]{Items: []leaf{{K: "k"}}}}},
	{"empty struct", &empty{}},
	{"struct value, not pointer", scalars{S: "v"}},
	{"pointer to pointer", ptr(&leaf{K: "pp"})},
	{"escaping", &leaf{K: "<a href=\"x\">&'\t\n\r</a>", V: "\x00\x1f\x7f\xff\xed\xa0\x80\uFFFD\uFFFE\uFFFF\U0010FFFF日本"}},
	{"nil pointer body", (*leaf)(nil)},
}

func TestSupportedMatchesEncodingXML(t *testing.T) {
	var enc xmlenc.Encoder
	for _, tc := range supported {
		t.Run(tc.name, func(t *testing.T) {
			if err := xmlenctest.Compare(&enc, tc.value); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSupportedTypesRandomValues fills the supported types with random
// contents: every combination of nil, empty and special values must encode
// as encoding/xml encodes it.
func TestSupportedTypesRandomValues(t *testing.T) {
	var enc xmlenc.Encoder
	for i, tc := range supported {
		typ := reflect.TypeOf(tc.value)
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		t.Run(tc.name, func(t *testing.T) {
			xmlenctest.CheckType(t, &enc, typ, false, uint64(i), 300)
		})
	}
}

type marshaler struct{ V string }

func (marshaler) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return e.EncodeElement("custom", start)
}

type ptrMarshaler struct{ V string }

func (*ptrMarshaler) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return e.EncodeElement("custom", start)
}

type textMarshaler int

func (textMarshaler) MarshalText() ([]byte, error) { return []byte("text"), nil }

type attrMarshaler string

func (attrMarshaler) MarshalXMLAttr(name xml.Name) (xml.Attr, error) {
	return xml.Attr{Name: name}, nil
}

type embedsMarshaler struct {
	marshaler
	V string `xml:"v"`
}

type embedsXMLName struct {
	withXMLName
	W string `xml:"w"`
}

type embedsString struct {
	label
}

type untaggedXMLName struct {
	XMLName xml.Name
	V       string `xml:"v"`
}

type optionXMLName struct {
	XMLName xml.Name `xml:"n,omitempty"`
}

type dashXMLName struct {
	XMLName xml.Name `xml:"-"`
}

type mismatchedXMLName struct {
	F withXMLName `xml:"Other"`
}

// endlessPtr and selfEmbedded never end: the plan must not loop on them
// (encoding/xml itself overflows its stack on selfEmbedded).
type endlessPtr *endlessPtr

type selfEmbedded struct {
	*selfEmbedded
	V string `xml:"v"`
}

// deep hides an unsupported type behind a slice of pointers to structs.
type deep struct {
	Items []*struct {
		When *time.Time `xml:"when,omitempty"`
	} `xml:"items>item"`
}

// fieldStruct builds a one-field struct at run time, for tags vet would
// flag in source.
func fieldStruct(fields ...reflect.StructField) any {
	return reflect.New(reflect.StructOf(fields)).Interface()
}

func stringField(name, tag string) reflect.StructField {
	return reflect.StructField{Name: name, Type: reflect.TypeFor[string](), Tag: reflect.StructTag(tag)}
}

// unsupported are values whose type the plan must refuse as a whole, so
// that encodeInner hands them to encoding/xml.
var unsupported = []struct {
	name  string
	value any
}{
	{"attr", &struct {
		A string `xml:"a,attr"`
	}{}},
	{"chardata", &struct {
		A string `xml:",chardata"`
	}{}},
	{"cdata", &struct {
		A string `xml:",cdata"`
	}{}},
	{"innerxml", &struct {
		A string `xml:",innerxml"`
	}{}},
	{"comment", &struct {
		A string `xml:",comment"`
	}{}},
	{"any", &struct {
		A string `xml:",any"`
	}{}},
	{"namespace", &struct {
		A string `xml:"urn:x a"`
	}{}},
	{"interface", &struct {
		A any `xml:"a"`
	}{}},
	{"map", &struct {
		A map[string]string `xml:"a,omitempty"`
	}{}},
	{"array", &struct {
		A [2]string `xml:"a"`
	}{}},
	{"byte array", &struct {
		A [2]byte `xml:"a"`
	}{}},
	{"complex", &struct {
		A complex128 `xml:"a"`
	}{}},
	{"chan", &struct {
		A chan int `xml:"a"`
	}{}},
	{"func", &struct {
		A func() `xml:"a"`
	}{}},
	{"Marshaler", &struct {
		A marshaler `xml:"a"`
	}{}},
	{"Marshaler on pointer", &struct {
		A ptrMarshaler `xml:"a"`
	}{}},
	{"TextMarshaler", &struct {
		A textMarshaler `xml:"a"`
	}{}},
	{"MarshalerAttr", &struct {
		A attrMarshaler `xml:"a"`
	}{}},
	{"time.Time", &struct {
		A time.Time `xml:"a"`
	}{}},
	{"top-level Marshaler", &marshaler{}},
	{"embedded Marshaler promotes MarshalXML", &embedsMarshaler{}},
	{"xml.Name field", &struct {
		N xml.Name `xml:"n"`
	}{}},
	{"untagged XMLName", &struct {
		F untaggedXMLName `xml:"f"`
	}{}},
	{"XMLName with options", &struct {
		F optionXMLName `xml:"n"`
	}{}},
	{"XMLName dash", &struct {
		F dashXMLName `xml:"f"`
	}{}},
	{"XMLName conflicting with field name", &mismatchedXMLName{}},
	{"embedded XMLName", &embedsXMLName{}},
	{"embedded non-struct", &embedsString{}},
	{"unsupported deep inside", &deep{}},
	{"endless pointer type", &struct {
		P endlessPtr `xml:"p"`
	}{}},
	{"self-embedding struct", &selfEmbedded{}},
	{"top-level string", ptr("s")},
	{"top-level slice", []leaf{}},
	{"same name twice", fieldStruct(stringField("A", `xml:"a"`), stringField("B", `xml:"a"`))},
	{"name is a parent of another", fieldStruct(stringField("A", `xml:"a"`), stringField("B", `xml:"a>b"`))},
	{"empty parent", fieldStruct(stringField("A", `xml:"a>>b"`))},
	{"trailing >", fieldStruct(stringField("A", `xml:"a>"`))},
}

func TestUnsupportedFallsBack(t *testing.T) {
	var enc xmlenc.Encoder
	for _, tc := range unsupported {
		t.Run(tc.name, func(t *testing.T) {
			err := enc.Supports(reflect.TypeOf(tc.value))
			if !errors.Is(err, xmlenc.ErrUnsupported) {
				t.Fatalf("Supports: %v, want ErrUnsupported", err)
			}
			t.Log(err)
			out, err := enc.AppendElement([]byte("prefix"), "R", tc.value)
			if !errors.Is(err, xmlenc.ErrUnsupported) || string(out) != "prefix" {
				t.Fatalf("AppendElement = %q, %v; want dst untouched and ErrUnsupported", out, err)
			}
		})
	}
}

// TestEmbeddedDepthConflictFallsBack: encoding/xml lets the shallower of
// two clashing fields win; the plan leaves that to encoding/xml.
func TestEmbeddedDepthConflictFallsBack(t *testing.T) {
	type shadow struct {
		Base
		ID string `xml:"id"`
	}
	var enc xmlenc.Encoder
	if err := enc.Supports(reflect.TypeFor[shadow]()); !errors.Is(err, xmlenc.ErrUnsupported) {
		t.Fatalf("Supports: %v, want ErrUnsupported", err)
	}
}

func TestAppendElementAppends(t *testing.T) {
	var enc xmlenc.Encoder
	for _, tc := range []struct {
		name      string
		dst       string
		value     any
		wantAfter string
	}{
		{"appends after dst", "<x>", &leaf{K: "k"}, "<R><key>k</key></R>"},
		{"nil interface writes nothing", "<x>", nil, ""},
		{"nil pointer writes nothing", "<x>", (*leaf)(nil), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := enc.AppendElement([]byte(tc.dst), "R", tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.dst + tc.wantAfter; string(out) != want {
				t.Fatalf("got %q, want %q", out, want)
			}
		})
	}
}

func TestEmptyNameIsLeftToEncodingXML(t *testing.T) {
	var enc xmlenc.Encoder
	if _, err := enc.AppendElement(nil, "", &leaf{}); !errors.Is(err, xmlenc.ErrUnsupported) {
		t.Fatalf("got %v, want ErrUnsupported", err)
	}
}

// TestEscapingEveryRuneClass compares the text escaping on each single
// character class, one at a time, so a failure names it.
func TestEscapingEveryRuneClass(t *testing.T) {
	var enc xmlenc.Encoder
	var cases []string
	for c := range 0x80 {
		cases = append(cases, string(rune(c)))
	}
	cases = append(cases, "\x80", "\xbf", "\xc0\x80", "\xc2", "\xdf\xbf", "\xe0\x80\x80", "\xed\x9f\xbf", "\xed\xa0\x80",
		"\xee\x80\x80", "\xef\xbf\xbd", "\xef\xbf\xbe", "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80",
		"\xf8\x88\x80\x80\x80", "\xff", strings.Repeat("a<", 100))
	for _, s := range cases {
		if err := xmlenctest.Compare(&enc, &struct {
			S string `xml:"s"`
			B []byte `xml:"b"`
		}{s, []byte(s)}); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
}

// TestConcurrentUse encodes from many goroutines with one Encoder, for the
// race detector.
func TestConcurrentUse(t *testing.T) {
	var enc xmlenc.Encoder
	done := make(chan error)
	for i := range 8 {
		go func() {
			var err error
			for _, tc := range supported[i%len(supported):] {
				if err = xmlenctest.Compare(&enc, tc.value); err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
