package controlplane

import (
	"context"
	"reflect"
	"sort"
	"strings"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// TagSpec is one TagSpecification of a create call.
type TagSpec struct {
	ResourceType string
	Tags         cloud.Tags
}

const maxTags = 50

func sortTags(tags cloud.Tags) cloud.Tags {
	if len(tags) == 0 {
		return nil
	}
	out := append(cloud.Tags(nil), tags...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func validateTags(tags cloud.Tags) error {
	for _, t := range tags {
		switch {
		case t.Key == "" || len(t.Key) > 128:
			return cloud.Errorf("InvalidParameterValue", "Tag keys must be between 1 and 128 characters long: '%s'", t.Key)
		case len(t.Value) > 256:
			return cloud.Errorf("InvalidParameterValue", "Tag values must be at most 256 characters long (key '%s')", t.Key)
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return cloud.Errorf("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
		}
	}
	return nil
}

// mergeTags sets add over have (later keys win) and enforces the limit.
func mergeTags(have, add cloud.Tags) (cloud.Tags, error) {
	if err := validateTags(add); err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, t := range have {
		m[t.Key] = t.Value
	}
	for _, t := range add {
		m[t.Key] = t.Value
	}
	if len(m) > maxTags {
		return nil, cloud.Errorf("TagLimitExceeded", "The maximum number of tags per resource (%d) has been exceeded.", maxTags)
	}
	out := make(cloud.Tags, 0, len(m))
	for k, v := range m {
		out = append(out, cloud.Tag{Key: k, Value: v})
	}
	return sortTags(out), nil
}

// tagsFor picks the tags of specs for resourceType; specs for other types
// are refused, as AWS refuses them.
func tagsFor(specs []TagSpec, resourceType string) (cloud.Tags, error) {
	var tags cloud.Tags
	for _, s := range specs {
		if s.ResourceType == "" {
			return nil, cloud.MissingParameter("TagSpecification.ResourceType")
		}
		if s.ResourceType != resourceType {
			return nil, cloud.Errorf("InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation.", s.ResourceType)
		}
		tags = append(tags, s.Tags...)
	}
	return mergeTags(nil, tags)
}

// taggableKinds maps ID prefixes to store kinds and EC2 resource types, for
// CreateTags/DeleteTags/DescribeTags. Longer prefixes come first.
var taggableKinds = []struct{ prefix, kind, resourceType string }{
	{"vpce-svc-", "vpc-endpoint-service", "vpc-endpoint-service"},
	{"vpce-", "vpc-endpoint", "vpc-endpoint"},
	{"vpc-", cloud.KindVpc, "vpc"},
	{"subnet-", cloud.KindSubnet, "subnet"},
	{"sg-", cloud.KindSecurityGroup, "security-group"},
	{"acl-", cloud.KindNetworkAcl, "network-acl"},
	{"rtb-", cloud.KindRouteTable, "route-table"},
	{"igw-", cloud.KindInternetGateway, "internet-gateway"},
	{"eni-", cloud.KindNetworkInterface, "network-interface"},
	{"i-", cloud.KindInstance, "instance"},
	{"pl-", cloud.KindPrefixList, "prefix-list"},
}

func kindOfID(id string) (kind, resourceType string, ok bool) {
	for _, k := range taggableKinds {
		if strings.HasPrefix(id, k.prefix) {
			return k.kind, k.resourceType, true
		}
	}
	return "", "", false
}

// lookupTaggable returns the caller's resource with id, whatever its kind.
func lookupTaggable(tx *store.Tx, c *Call, id string) (cloud.Resource, string, error) {
	kind, rtype, ok := kindOfID(id)
	if !ok || !tx.HasKind(kind) {
		return nil, "", cloud.Errorf("InvalidID", "The ID '%s' is not valid", id)
	}
	r, ok := tx.Get(kind, id).(cloud.Resource)
	if !ok || r == nil || !visible(c, r.Base()) {
		return nil, "", cloud.Errorf("InvalidID", "The ID '%s' is not valid", id)
	}
	return r, rtype, nil
}

// CreateTags adds or overwrites tags on resources (all or nothing).
func (cp *ControlPlane) CreateTags(ctx context.Context, c *Call, ids []string, tags cloud.Tags) error {
	if len(ids) == 0 {
		return cloud.MissingParameter("ResourceId")
	}
	if len(tags) == 0 {
		return cloud.MissingParameter("Tag")
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		for _, id := range ids {
			r, _, err := lookupTaggable(tx, c, id)
			if err != nil {
				return err
			}
			if err := cp.authorize(ctx, c, id); err != nil {
				return err
			}
			merged, err := mergeTags(r.Base().Tags, tags)
			if err != nil {
				return err
			}
			kind, _, _ := kindOfID(id)
			tx.Put(kind, id, withTags(r, merged))
		}
		return nil
	})
}

// DeleteTags removes tags; a tag with a value is removed only if it matches.
func (cp *ControlPlane) DeleteTags(ctx context.Context, c *Call, ids []string, tags []cloud.Tag, valueGiven []bool) error {
	if len(ids) == 0 {
		return cloud.MissingParameter("ResourceId")
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		for _, id := range ids {
			r, _, err := lookupTaggable(tx, c, id)
			if err != nil {
				return err
			}
			if err := cp.authorize(ctx, c, id); err != nil {
				return err
			}
			var kept cloud.Tags
			for _, have := range r.Base().Tags {
				drop := len(tags) == 0
				for i, t := range tags {
					if t.Key == have.Key && (!valueGiven[i] || t.Value == have.Value) {
						drop = true
					}
				}
				if !drop {
					kept = append(kept, have)
				}
			}
			kind, _, _ := kindOfID(id)
			tx.Put(kind, id, withTags(r, kept))
		}
		return nil
	})
}

// TagDescription is one row of DescribeTags.
type TagDescription struct {
	ResourceID, ResourceType, Key, Value string
}

var tagFilters = filterer[TagDescription]{fields: fields[TagDescription]{
	"key":           func(t *TagDescription) []string { return []string{t.Key} },
	"value":         func(t *TagDescription) []string { return []string{t.Value} },
	"resource-id":   func(t *TagDescription) []string { return []string{t.ResourceID} },
	"resource-type": func(t *TagDescription) []string { return []string{t.ResourceType} },
}}

// DescribeTags lists the caller's tags across resource kinds.
func (cp *ControlPlane) DescribeTags(ctx context.Context, c *Call, filters []cloud.Filter, page Page) ([]*TagDescription, string, error) {
	if err := cp.checkDryRun(ctx, c); err != nil {
		return nil, "", err
	}
	keep, err := tagFilters.compile(filters)
	if err != nil {
		return nil, "", err
	}
	var out []*TagDescription
	cp.db.View(func(tx *store.Tx) error {
		for _, k := range taggableKinds {
			if !tx.HasKind(k.kind) {
				continue
			}
			tx.Each(k.kind, func(id string, v any) bool {
				r, ok := v.(cloud.Resource)
				if !ok || !visible(c, r.Base()) {
					return true
				}
				for _, t := range r.Base().Tags {
					td := &TagDescription{ResourceID: id, ResourceType: k.resourceType, Key: t.Key, Value: t.Value}
					if keep(td) {
						out = append(out, td)
					}
				}
				return true
			})
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].ResourceID != out[j].ResourceID {
			return out[i].ResourceID < out[j].ResourceID
		}
		return out[i].Key < out[j].Key
	})
	return paginate(out, func(t *TagDescription) string { return t.ResourceID + "\x00" + t.Key }, page, 5, 1000)
}

// withTags returns a copy of r with its tags replaced (copy-on-write).
func withTags(r cloud.Resource, tags cloud.Tags) cloud.Resource {
	v := reflect.ValueOf(r).Elem()
	c := reflect.New(v.Type())
	c.Elem().Set(v)
	out := c.Interface().(cloud.Resource)
	out.Base().Tags = sortTags(tags)
	return out
}
