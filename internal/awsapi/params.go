package awsapi

import (
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/privlink/privlink/internal/cloud"
)

// Params holds the flattened Query-protocol parameters of a request
// (Name=value, SubnetId.1=…, Filter.1.Value.2=…, Subnets.member.1=…).
type Params map[string]string

// ParseParams decodes a form body (and query string) into Params.
func ParseParams(values url.Values) Params {
	p := make(Params, len(values))
	for k, v := range values {
		if len(v) > 0 {
			p[k] = v[0]
		}
	}
	return p
}

// Get returns the value of name ("" when absent).
func (p Params) Get(name string) string { return p[name] }

// Has reports whether name was sent.
func (p Params) Has(name string) bool { _, ok := p[name]; return ok }

// Required returns name's value or a MissingParameter error.
func (p Params) Required(name string) (string, error) {
	v, ok := p[name]
	if !ok || v == "" {
		return "", cloud.MissingParameter(name)
	}
	return v, nil
}

// Bool parses name as a boolean; def is returned when absent.
func (p Params) Bool(name string, def bool) (bool, error) {
	v, ok := p[name]
	if !ok {
		return def, nil
	}
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, cloud.InvalidParameterValue(name, v, "Expected a boolean.")
}

// OptBool parses name as a boolean pointer (nil when absent).
func (p Params) OptBool(name string) (*bool, error) {
	if !p.Has(name) {
		return nil, nil
	}
	b, err := p.Bool(name, false)
	return &b, err
}

// Int parses name as an integer; def is returned when absent.
func (p Params) Int(name string, def int) (int, error) {
	v, ok := p[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, cloud.InvalidParameterValue(name, v, "Expected an integer.")
	}
	return n, nil
}

// OptInt parses name as an integer pointer (nil when absent).
func (p Params) OptInt(name string) (*int, error) {
	if !p.Has(name) {
		return nil, nil
	}
	n, err := p.Int(name, 0)
	return &n, err
}

// indexed returns, for keys "<prefix>.<N>[.<rest>]" (or "<prefix>.member.<N>…"),
// the sorted indices and a map from index to the remainder after the index.
func (p Params) indexed(prefix string) []int {
	seen := map[int]bool{}
	for _, base := range []string{prefix + ".", prefix + ".member."} {
		for k := range p {
			if !strings.HasPrefix(k, base) {
				continue
			}
			rest := k[len(base):]
			num, _, _ := strings.Cut(rest, ".")
			n, err := strconv.Atoi(num)
			if err != nil || n < 1 {
				continue
			}
			seen[n] = true
		}
	}
	idx := make([]int, 0, len(seen))
	for n := range seen {
		idx = append(idx, n)
	}
	sort.Ints(idx)
	return idx
}

func (p Params) elemPrefix(prefix string, n int) string {
	s := strconv.Itoa(n)
	if _, ok := p[prefix+".member."+s]; ok {
		return prefix + ".member." + s
	}
	for k := range p {
		if strings.HasPrefix(k, prefix+".member."+s+".") {
			return prefix + ".member." + s
		}
	}
	return prefix + "." + s
}

// List returns the values of a list parameter (Name.1, Name.2, … or
// Name.member.1, …) in index order.
func (p Params) List(name string) []string {
	var out []string
	for _, n := range p.indexed(name) {
		if v, ok := p[p.elemPrefix(name, n)]; ok {
			out = append(out, v)
		}
	}
	return out
}

// Structs returns the members of a list of structures (Name.N.Field=…),
// each as its own Params with the "Name.N." prefix removed.
func (p Params) Structs(name string) []Params {
	var out []Params
	for _, n := range p.indexed(name) {
		pre := p.elemPrefix(name, n) + "."
		sub := Params{}
		for k, v := range p {
			if strings.HasPrefix(k, pre) {
				sub[k[len(pre):]] = v
			}
		}
		if len(sub) > 0 {
			out = append(out, sub)
		}
	}
	return out
}

// Struct returns the fields of a structure parameter (Name.Field=…).
func (p Params) Struct(name string) Params {
	pre := name + "."
	sub := Params{}
	for k, v := range p {
		if strings.HasPrefix(k, pre) {
			sub[k[len(pre):]] = v
		}
	}
	return sub
}

// Filters decodes Filter.N.Name / Filter.N.Value.M.
func (p Params) Filters() ([]cloud.Filter, error) {
	var out []cloud.Filter
	for _, s := range p.Structs("Filter") {
		name := s.Get("Name")
		if name == "" {
			return nil, cloud.Errorf("InvalidParameterValue", "The filter 'null' is invalid")
		}
		out = append(out, cloud.Filter{Name: name, Values: s.List("Value")})
	}
	return out, nil
}

// TagSpecification is one TagSpecification.N entry.
type TagSpecification struct {
	ResourceType string
	Tags         cloud.Tags
}

// Tags decodes a list of Key/Value structures (Tag.N.Key, Tags.member.N.Key).
func (p Params) Tags(name string) (cloud.Tags, error) {
	var tags cloud.Tags
	for _, s := range p.Structs(name) {
		k, ok := s["Key"]
		if !ok {
			return nil, cloud.MissingParameter(name + ".Key")
		}
		tags = append(tags, cloud.Tag{Key: k, Value: s.Get("Value")})
	}
	return tags, nil
}

// TagSpecifications decodes TagSpecification.N.ResourceType/Tag.M.*.
func (p Params) TagSpecifications() ([]TagSpecification, error) {
	var out []TagSpecification
	for _, s := range p.Structs("TagSpecification") {
		tags, err := s.Tags("Tag")
		if err != nil {
			return nil, err
		}
		out = append(out, TagSpecification{ResourceType: s.Get("ResourceType"), Tags: tags})
	}
	return out, nil
}
