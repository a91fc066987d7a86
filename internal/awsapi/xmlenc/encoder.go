// Package xmlenc renders Go structs as XML byte for byte as encoding/xml's
// Encoder.EncodeElement does, several times faster: it compiles an
// encoding plan once per type with reflection and then appends straight to
// a []byte, with no per-value interface checks, no bufio layer and a fast
// path for text that needs no escaping.
//
// It supports the subset of encoding/xml that privlink's response shapes
// use (element names and a>b>c parent paths, omitempty, "-", embedded
// structs, pointers, slices, strings, bools, numbers, []byte and XMLName
// fields with a plain name). A type that reaches anything else (attributes,
// chardata, innerxml, comments, any, namespaces, interfaces, maps, arrays,
// custom marshalers, time.Time…) is reported as unsupported as a whole, so
// the caller can hand it to encoding/xml instead.
package xmlenc

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
)

// ErrUnsupported is wrapped by the errors reporting that a type uses a
// feature the plan does not reproduce exactly; encode it with encoding/xml.
var ErrUnsupported = errors.New("xmlenc: unsupported by the fast encoder")

// Encoder encodes values of any supported type. It caches one plan per
// top-level type, for the life of the Encoder; the zero value is ready to
// use and it is safe for concurrent use.
type Encoder struct {
	plans sync.Map // reflect.Type → *topPlan
}

// topPlan is the cached outcome of compiling a top-level type.
type topPlan struct {
	fields *structPlan // nil when err is set
	err    error
	// sizeHint is the length of the last output, to allocate a large
	// response's buffer once instead of growing it step by step.
	sizeHint atomic.Int64
}

// AppendElement appends v as the element <name>…</name> to dst, exactly as
// encoding/xml's EncodeElement(v, StartElement{Name: Name{Local: name}})
// would write it. v must be a struct or a pointer to one; a nil pointer
// writes nothing, as encoding/xml does. The error wraps ErrUnsupported when
// v's type is outside what the plan reproduces; dst is then unchanged.
func (e *Encoder) AppendElement(dst []byte, name string, v any) ([]byte, error) {
	if name == "" {
		// encoding/xml reports this itself; let it word the error.
		return dst, fmt.Errorf("%w: empty element name", ErrUnsupported)
	}
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return dst, nil
	}
	p := e.plan(rv.Type())
	if p.err != nil {
		return dst, p.err
	}
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return dst, nil
		}
		rv = rv.Elem()
	}
	if hint := int(p.sizeHint.Load()); cap(dst)-len(dst) < hint {
		dst = slices.Grow(dst, hint)
	}
	start := len(dst)
	dst = append(append(append(dst, '<'), name...), '>')
	dst = p.fields.appendFields(dst, rv)
	dst = append(append(append(dst, "</"...), name...), '>')
	p.sizeHint.Store(int64(len(dst) - start))
	return dst, nil
}

// Supports reports whether AppendElement encodes values of type t itself;
// the error wraps ErrUnsupported and names the first feature in the way.
func (e *Encoder) Supports(t reflect.Type) error {
	return e.plan(t).err
}

func (e *Encoder) plan(t reflect.Type) *topPlan {
	if p, ok := e.plans.Load(t); ok {
		return p.(*topPlan)
	}
	p := &topPlan{}
	p.fields, p.err = compileTop(t)
	if p.err != nil {
		p.fields = nil
	}
	actual, _ := e.plans.LoadOrStore(t, p)
	return actual.(*topPlan)
}
