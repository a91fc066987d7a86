package xmlenc

import (
	"reflect"
	"strconv"
)

// appendFields writes a struct's fields, opening and closing the parent
// elements of a>b>c tags as encoding/xml's marshalStruct does: consecutive
// fields share the parents they have in common, a field closes the parents
// it does not share, and a nil pointer opens none.
func (sp *structPlan) appendFields(b []byte, v reflect.Value) []byte {
	// The open parents are always open.parents[:depth]: after trimming,
	// the stack is a prefix of the field's parents, and a push makes it
	// exactly the field's parents.
	var open *fieldPlan
	depth := 0
	for i := range sp.fields {
		f := &sp.fields[i]
		fv, ok := f.value(v)
		if !ok {
			continue // behind a nil embedded pointer: no effect on parents
		}
		if depth > 0 || len(f.parents) > 0 {
			b, depth = closeParents(b, open, depth, f.parents)
			if len(f.parents) > depth && !(f.isPointer && fv.IsNil()) {
				for _, tag := range f.openTags[depth:] {
					b = append(b, tag...)
				}
				open, depth = f, len(f.parents)
			}
		}
		b = f.encode(b, fv)
	}
	b, _ = closeParents(b, open, depth, nil)
	return b
}

// closeParents closes the open parents that parents does not start with and
// returns the depth left open.
func closeParents(b []byte, open *fieldPlan, depth int, parents []string) ([]byte, int) {
	keep := 0
	for keep < depth && keep < len(parents) && open.parents[keep] == parents[keep] {
		keep++
	}
	for i := depth - 1; i >= keep; i-- {
		b = append(b, open.closeTags[i]...)
	}
	return b, keep
}

// value returns the field of struct v, following embedded pointers; ok is
// false when one of them is nil (encoding/xml's dontInitNilPointers).
func (f *fieldPlan) value(v reflect.Value) (reflect.Value, bool) {
	if len(f.index) == 1 {
		return v.Field(f.index[0]), true
	}
	for i, x := range f.index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

// appendSimple returns the character-data appender of a scalar kind, as
// encoding/xml's marshalSimple formats it, or nil for other kinds.
func appendSimple(t reflect.Type) func([]byte, reflect.Value) []byte {
	switch t.Kind() {
	case reflect.String:
		return func(b []byte, v reflect.Value) []byte { return appendEscaped(b, v.String()) }
	case reflect.Bool:
		return func(b []byte, v reflect.Value) []byte { return strconv.AppendBool(b, v.Bool()) }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(b []byte, v reflect.Value) []byte { return strconv.AppendInt(b, v.Int(), 10) }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(b []byte, v reflect.Value) []byte { return strconv.AppendUint(b, v.Uint(), 10) }
	case reflect.Float32, reflect.Float64:
		// Numbers, NaN and ±Inf contain nothing to escape.
		bits := t.Bits()
		return func(b []byte, v reflect.Value) []byte { return strconv.AppendFloat(b, v.Float(), 'g', -1, bits) }
	}
	return nil
}

// appendBytes writes a []byte (of any byte-kind element type) as escaped
// text, as encoding/xml's EscapeText does.
func appendBytes(b []byte, v reflect.Value) []byte {
	return appendEscaped(b, string(v.Bytes()))
}
