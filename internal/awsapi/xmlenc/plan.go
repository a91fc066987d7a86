package xmlenc

import (
	"encoding"
	"encoding/xml"
	"fmt"
	"reflect"
	"strings"
)

// The plan mirrors encoding/xml's marshal.go and typeinfo.go (Go 1.26):
// marshalValue becomes a chain of encodeFuncs built once per type, and
// marshalStruct's parent-element stack is kept as a slice of one field's
// parents. Where a comment cites encoding/xml, the behaviour reproduced is
// that function's.

// encodeFunc appends v's XML to b.
type encodeFunc func(b []byte, v reflect.Value) []byte

// structPlan holds a struct type's element fields in encoding/xml's order,
// embedded structs flattened.
type structPlan struct {
	// xmlName is the name an XMLName field's tag gives the struct's
	// element, overriding the field's name; "" if it has none.
	xmlName string
	fields  []fieldPlan
}

// fieldPlan is one element field of a struct (encoding/xml's fieldInfo).
type fieldPlan struct {
	index []int
	// parents are the a>b of an a>b>c tag, with their tags pre-rendered.
	parents   []string
	openTags  []string
	closeTags []string
	isPointer bool // a nil pointer opens none of its parents
	name      string
	encode    encodeFunc
	fieldName string // for error messages
}

var (
	nameType          = reflect.TypeFor[xml.Name]()
	marshalerType     = reflect.TypeFor[xml.Marshaler]()
	marshalerAttrType = reflect.TypeFor[xml.MarshalerAttr]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// compiler builds the plans of one top-level type. Struct plans are
// memoised so recursive types terminate; any unsupported type reached
// fails the whole compilation.
type compiler struct {
	structs map[reflect.Type]*structPlan
}

func unsupported(t reflect.Type, format string, args ...any) error {
	return fmt.Errorf("%w: %v: %s", ErrUnsupported, t, fmt.Sprintf(format, args...))
}

// compileTop plans a value passed to EncodeElement: pointers to a struct.
// The element's name is the caller's, so an XMLName field is ignored here.
func compileTop(t reflect.Type) (*structPlan, error) {
	c := &compiler{structs: map[reflect.Type]*structPlan{}}
	st, ok := deref(t)
	if !ok || st.Kind() != reflect.Struct {
		return nil, unsupported(t, "the top-level value must be a struct or a pointer to one")
	}
	if err := checkPlainType(st); err != nil {
		return nil, err
	}
	return c.compileStruct(st)
}

// maxDepth bounds chains of pointer types and of embedded structs, which
// can be endless: type P *P, or type S struct{ *S }.
const maxDepth = 32

// deref follows pointer types; ok is false for an endless chain.
func deref(t reflect.Type) (_ reflect.Type, ok bool) {
	for range maxDepth {
		if t.Kind() != reflect.Pointer {
			return t, true
		}
		t = t.Elem()
	}
	return t, false
}

// checkPlainType refuses types whose encoding is not the reflective one:
// encoding/xml calls these methods on the value or its address. MarshalXMLAttr
// is only used for attributes, which are refused anyway; it is checked too
// so that no custom method is ever bypassed.
func checkPlainType(t reflect.Type) error {
	for _, c := range []reflect.Type{t, reflect.PointerTo(t)} {
		for _, iface := range []reflect.Type{marshalerType, textMarshalerType, marshalerAttrType} {
			if c.Implements(iface) {
				return unsupported(t, "%v implements %v", c, iface)
			}
		}
	}
	if t == nameType {
		return unsupported(t, "xml.Name outside an XMLName field")
	}
	return nil
}

// compileValue plans encoding/xml's marshalValue for a field or a slice
// element: the omitempty test applies to the value itself (before pointers
// are followed) and again to each element of a slice.
func (c *compiler) compileValue(t reflect.Type, name string, omitEmpty bool) (encodeFunc, error) {
	if t.Kind() == reflect.String && checkPlainType(t) == nil {
		return stringElement(name, omitEmpty), nil
	}
	enc, err := c.compileDeref(t, name, omitEmpty)
	if err != nil || !omitEmpty {
		return enc, err
	}
	empty := emptyTest(t)
	if empty == nil {
		return enc, nil // structs are never empty
	}
	return func(b []byte, v reflect.Value) []byte {
		if empty(v) {
			return b
		}
		return enc(b, v)
	}, nil
}

// compileDeref plans a value after the omitempty test: pointers are followed
// (nil writes nothing), slices repeat the element, structs and simple
// values become one element.
func (c *compiler) compileDeref(t reflect.Type, name string, omitEmpty bool) (encodeFunc, error) {
	if t.Kind() == reflect.Pointer {
		if _, ok := deref(t); !ok {
			return nil, unsupported(t, "endless pointer type")
		}
		elem, err := c.compileDeref(t.Elem(), name, omitEmpty)
		if err != nil {
			return nil, err
		}
		return func(b []byte, v reflect.Value) []byte {
			if v.IsNil() {
				return b
			}
			return elem(b, v.Elem())
		}, nil
	}
	if err := checkPlainType(t); err != nil {
		return nil, err
	}
	switch t.Kind() {
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return simpleElement(name, appendBytes), nil
		}
		return c.compileSlice(t, name, omitEmpty)
	case reflect.Struct:
		return c.compileStructElement(t, name)
	}
	if app := appendSimple(t); app != nil {
		return simpleElement(name, app), nil
	}
	return nil, unsupported(t, "kind %v", t.Kind())
}

// compileSlice repeats the element's encoding, each with the same name and
// its own omitempty test; a slice has no element of its own.
func (c *compiler) compileSlice(t reflect.Type, name string, omitEmpty bool) (encodeFunc, error) {
	elem, err := c.compileValue(t.Elem(), name, omitEmpty)
	if err != nil {
		return nil, err
	}
	return func(b []byte, v reflect.Value) []byte {
		for i, n := 0, v.Len(); i < n; i++ {
			b = elem(b, v.Index(i))
		}
		return b
	}, nil
}

// compileStructElement wraps a struct's fields in its element; a tagged
// XMLName field names the element, whatever the field says.
func (c *compiler) compileStructElement(t reflect.Type, name string) (encodeFunc, error) {
	sp, err := c.compileStruct(t)
	if err != nil {
		return nil, err
	}
	if sp.xmlName != "" {
		name = sp.xmlName
	}
	open, close := "<"+name+">", "</"+name+">"
	return func(b []byte, v reflect.Value) []byte {
		b = append(b, open...)
		b = sp.appendFields(b, v)
		return append(b, close...)
	}, nil
}

// stringElement is simpleElement for strings, the bulk of every response,
// with the omitempty test folded in to save two indirect calls.
func stringElement(name string, omitEmpty bool) encodeFunc {
	open, close := "<"+name+">", "</"+name+">"
	return func(b []byte, v reflect.Value) []byte {
		s := v.String()
		if omitEmpty && s == "" {
			return b
		}
		b = append(b, open...)
		b = appendEscaped(b, s)
		return append(b, close...)
	}
}

// simpleElement wraps a character-data appender in the element name.
func simpleElement(name string, app func([]byte, reflect.Value) []byte) encodeFunc {
	open, close := "<"+name+">", "</"+name+">"
	return func(b []byte, v reflect.Value) []byte {
		b = append(b, open...)
		b = app(b, v)
		return append(b, close...)
	}
}

// compileStruct plans t's fields. The plan is registered before its
// fields are compiled, so a recursive type refers to itself.
func (c *compiler) compileStruct(t reflect.Type) (*structPlan, error) {
	if sp, ok := c.structs[t]; ok {
		return sp, nil
	}
	sp := &structPlan{}
	c.structs[t] = sp
	var err error
	if sp.xmlName, err = xmlNameOf(t); err != nil {
		return nil, err
	}
	if sp.fields, err = c.flatten(t, nil); err != nil {
		return nil, err
	}
	if err := checkConflicts(t, sp.fields); err != nil {
		return nil, err
	}
	return sp, nil
}

// flatten lists t's element fields in encoding/xml's getTypeInfo order,
// with the fields of embedded structs in place of the embedding field.
// index is the path from the top struct to t.
func (c *compiler) flatten(t reflect.Type, index []int) ([]fieldPlan, error) {
	if len(index) > maxDepth {
		return nil, unsupported(t, "structs embedded %d deep", len(index))
	}
	var out []fieldPlan
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("xml")
		if (!f.IsExported() && !f.Anonymous) || tag == "-" {
			continue
		}
		path := append(index[:len(index):len(index)], i)
		if f.Anonymous {
			inner, err := c.flattenEmbedded(t, f, path)
			if err != nil {
				return nil, err
			}
			out = append(out, inner...)
			continue
		}
		if f.Name == "XMLName" {
			continue // names the element; checked by xmlNameOf
		}
		fp, err := c.compileField(t, f, path)
		if err != nil {
			return nil, err
		}
		out = append(out, fp)
	}
	return out, nil
}

// flattenEmbedded returns the fields of an embedded struct (or pointer to
// one). encoding/xml would let an embedded XMLName name the outer element
// and resolve name clashes by depth; both are left to encoding/xml.
func (c *compiler) flattenEmbedded(outer reflect.Type, f reflect.StructField, path []int) ([]fieldPlan, error) {
	ft := f.Type
	if ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	if ft.Kind() != reflect.Struct {
		return nil, unsupported(outer, "embedded non-struct field %s", f.Name)
	}
	if ft == nameType {
		return nil, unsupported(outer, "embedded xml.Name")
	}
	if hasXMLNameField(ft, 0) {
		return nil, unsupported(outer, "embedded %v has an XMLName field", ft)
	}
	return c.flatten(ft, path)
}

// hasXMLNameField reports whether t or a struct it embeds declares XMLName.
// It gives up past maxDepth, where flatten refuses the type anyway.
func hasXMLNameField(t reflect.Type, depth int) bool {
	if depth > maxDepth {
		return false
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Name == "XMLName" {
			return true
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && ft.Kind() == reflect.Struct && hasXMLNameField(ft, depth+1) {
			return true
		}
	}
	return false
}

// compileField plans one element field from its tag, as encoding/xml's
// structFieldInfo parses it.
func (c *compiler) compileField(owner reflect.Type, f reflect.StructField, path []int) (fieldPlan, error) {
	fp := fieldPlan{index: path, fieldName: f.Name, isPointer: f.Type.Kind() == reflect.Pointer}
	name, omitEmpty, err := parseTag(owner, f)
	if err != nil {
		return fp, err
	}
	typeName, err := xmlNameOf(f.Type)
	if err != nil {
		return fp, err
	}
	switch {
	case name == "" && typeName != "":
		name = typeName
	case name == "":
		name = f.Name
	default:
		if name, fp.parents, err = splitParents(owner, f, name); err != nil {
			return fp, err
		}
		if typeName != "" && typeName != name {
			return fp, unsupported(owner, "field %s is named %q but its type's XMLName says %q", f.Name, name, typeName)
		}
	}
	fp.name = name
	for _, p := range fp.parents {
		fp.openTags = append(fp.openTags, "<"+p+">")
		fp.closeTags = append(fp.closeTags, "</"+p+">")
	}
	fp.encode, err = c.compileValue(f.Type, name, omitEmpty)
	return fp, err
}

// parseTag returns the name part of an element field's tag and whether it
// says omitempty; any other mode, and namespaces, are unsupported. Unknown
// options are ignored, as encoding/xml ignores them.
func parseTag(owner reflect.Type, f reflect.StructField) (name string, omitEmpty bool, err error) {
	tag := f.Tag.Get("xml")
	if strings.Contains(tag, " ") {
		return "", false, unsupported(owner, "field %s: namespace in tag %q", f.Name, tag)
	}
	tokens := strings.Split(tag, ",")
	for _, flag := range tokens[1:] {
		switch flag {
		case "omitempty":
			omitEmpty = true
		case "attr", "cdata", "chardata", "innerxml", "comment", "any":
			return "", false, unsupported(owner, "field %s: ,%s", f.Name, flag)
		}
	}
	return tokens[0], omitEmpty, nil
}

// splitParents splits an a>b>c name into its parents and its own name; an
// empty first part is the field's name.
func splitParents(owner reflect.Type, f reflect.StructField, tagName string) (string, []string, error) {
	parts := strings.Split(tagName, ">")
	if parts[0] == "" {
		parts[0] = f.Name
	}
	for _, p := range parts {
		if p == "" {
			return "", nil, unsupported(owner, "field %s: empty element name in %q", f.Name, tagName)
		}
	}
	n := len(parts) - 1
	if n == 0 {
		return parts[0], nil, nil
	}
	return parts[n], parts[:n], nil
}

// xmlNameOf returns the element name an XMLName field of t (or of what t
// points to) declares, like encoding/xml's lookupXMLName. Only a plain tag
// is supported: without a name the element is named by the field's value
// at run time, and options or namespaces change the output.
func xmlNameOf(t reflect.Type) (string, error) {
	t, ok := deref(t)
	if !ok {
		return "", unsupported(t, "endless pointer type")
	}
	if t.Kind() != reflect.Struct {
		return "", nil
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Name != "XMLName" {
			continue
		}
		tag := f.Tag.Get("xml")
		if f.Anonymous || tag == "" || tag == "-" || strings.ContainsAny(tag, " ,>") {
			return "", unsupported(t, "XMLName tag %q is not a plain name", tag)
		}
		return tag, nil
	}
	return "", nil
}

// checkConflicts refuses structs where one field's path is a prefix of, or
// equal to, another's: encoding/xml either drops the deeper field or fails.
func checkConflicts(t reflect.Type, fields []fieldPlan) error {
	for i := range fields {
		for j := range i {
			if pathsConflict(&fields[j], &fields[i]) {
				return unsupported(t, "fields %s and %s have clashing paths", fields[j].fieldName, fields[i].fieldName)
			}
		}
	}
	return nil
}

// pathsConflict is encoding/xml's addFieldInfo test for two element fields
// without namespaces.
func pathsConflict(a, b *fieldPlan) bool {
	n := min(len(a.parents), len(b.parents))
	for p := range n {
		if a.parents[p] != b.parents[p] {
			return false
		}
	}
	switch {
	case len(a.parents) > len(b.parents):
		return a.parents[len(b.parents)] == b.name
	case len(a.parents) < len(b.parents):
		return b.parents[len(a.parents)] == a.name
	}
	return a.name == b.name
}

// emptyTest is encoding/xml's isEmptyValue for kind t, or nil for kinds
// that are never empty (structs).
func emptyTest(t reflect.Type) func(reflect.Value) bool {
	switch t.Kind() {
	case reflect.Slice, reflect.String:
		return func(v reflect.Value) bool { return v.Len() == 0 }
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Pointer:
		return reflect.Value.IsZero
	}
	return nil
}
