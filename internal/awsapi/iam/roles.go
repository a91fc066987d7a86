package iam

import (
	"context"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/iam"
)

type xmlRole struct {
	Path                     string   `xml:"Path"`
	RoleName                 string   `xml:"RoleName"`
	RoleID                   string   `xml:"RoleId"`
	Arn                      string   `xml:"Arn"`
	CreateDate               string   `xml:"CreateDate"`
	AssumeRolePolicyDocument string   `xml:"AssumeRolePolicyDocument"`
	Description              string   `xml:"Description,omitempty"`
	MaxSessionDuration       int      `xml:"MaxSessionDuration"`
	Tags                     *tagList `xml:"Tags,omitempty"`
}

func roleXML(r *cloud.Role, withTags bool) xmlRole {
	x := xmlRole{
		Path: r.Path, RoleName: r.RoleName, RoleID: r.RoleID, Arn: r.ARN(), CreateDate: isoTime(r.CreatedAt),
		AssumeRolePolicyDocument: iam.EncodedTrustPolicy(r), Description: r.Description, MaxSessionDuration: r.MaxSessionDuration,
	}
	if withTags {
		x.Tags = tagsXML(r.Tags)
	}
	return x
}

type roleResult struct {
	Role xmlRole `xml:"Role"`
}

func (h *handlers) createRole(ctx context.Context, r *awsapi.Request) (any, error) {
	p := r.Params
	tags, err := p.Tags("Tags")
	if err != nil {
		return nil, err
	}
	maxSession := 0
	if p.Has("MaxSessionDuration") {
		v, err := p.Int("MaxSessionDuration", 0)
		if err != nil {
			return nil, validation("1 validation error detected: Value '%s' at 'maxSessionDuration' failed to satisfy constraint: Member must be a number", p.Get("MaxSessionDuration"))
		}
		if v == 0 { // 0 would mean "default" below; IAM rejects it
			return nil, validation("1 validation error detected: Value '0' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600")
		}
		maxSession = v
	}
	role, err := h.dir.CreateRole(ctx, caller(r), iam.RoleInput{
		Name: p.Get("RoleName"), Path: p.Get("Path"), AssumeRolePolicy: p.Get("AssumeRolePolicyDocument"),
		Description: p.Get("Description"), MaxSessionDuration: maxSession, BoundaryARN: p.Get("PermissionsBoundary"), Tags: tags,
	})
	if err != nil {
		return nil, err
	}
	return &roleResult{roleXML(role, true)}, nil
}

func (h *handlers) getRole(ctx context.Context, r *awsapi.Request) (any, error) {
	role, err := h.dir.GetRole(ctx, caller(r), r.Params.Get("RoleName"))
	if err != nil {
		return nil, err
	}
	return &roleResult{roleXML(role, true)}, nil
}

func (h *handlers) listRoles(ctx context.Context, r *awsapi.Request) (any, error) {
	roles, err := h.dir.ListRoles(ctx, caller(r), r.Params.Get("PathPrefix"))
	if err != nil {
		return nil, err
	}
	roles, truncated, marker, err := page(r.Params, roles, func(x *cloud.Role) string { return x.RoleName })
	if err != nil {
		return nil, err
	}
	out := &struct {
		Roles struct {
			Members []xmlRole `xml:"member"`
		} `xml:"Roles"`
		IsTruncated bool   `xml:"IsTruncated"`
		Marker      string `xml:"Marker,omitempty"`
	}{IsTruncated: truncated, Marker: marker}
	for _, x := range roles {
		out.Roles.Members = append(out.Roles.Members, roleXML(x, false))
	}
	return out, nil
}

func (h *handlers) deleteRole(ctx context.Context, r *awsapi.Request) (any, error) {
	return nil, h.dir.DeleteRole(ctx, caller(r), r.Params.Get("RoleName"))
}

func (h *handlers) updateRole(ctx context.Context, r *awsapi.Request) (any, error) {
	var desc *string
	if r.Params.Has("Description") {
		d := r.Params.Get("Description")
		desc = &d
	}
	maxSession, err := r.Params.OptInt("MaxSessionDuration")
	if err != nil {
		return nil, validation("1 validation error detected: Value '%s' at 'maxSessionDuration' failed to satisfy constraint: Member must be a number", r.Params.Get("MaxSessionDuration"))
	}
	if err := h.dir.UpdateRole(ctx, caller(r), r.Params.Get("RoleName"), desc, maxSession); err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

func (h *handlers) updateAssumeRolePolicy(ctx context.Context, r *awsapi.Request) (any, error) {
	return nil, h.dir.UpdateAssumeRolePolicy(ctx, caller(r), r.Params.Get("RoleName"), r.Params.Get("PolicyDocument"))
}

// holder decodes UserName or RoleName.
func holder(r *awsapi.Request, role bool) (iam.PolicyHolder, error) {
	param := "UserName"
	if role {
		param = "RoleName"
	}
	name := r.Params.Get(param)
	if name == "" {
		return iam.PolicyHolder{}, validation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lower(param))
	}
	return iam.PolicyHolder{Role: role, Name: name}, nil
}

func lower(s string) string { return string(s[0]|0x20) + s[1:] }

func (h *handlers) putPolicy(role bool) awsapi.Handler {
	return func(ctx context.Context, r *awsapi.Request) (any, error) {
		ph, err := holder(r, role)
		if err != nil {
			return nil, err
		}
		return nil, h.dir.PutPolicy(ctx, caller(r), ph, r.Params.Get("PolicyName"), r.Params.Get("PolicyDocument"))
	}
}

func (h *handlers) getPolicy(role bool) awsapi.Handler {
	return func(ctx context.Context, r *awsapi.Request) (any, error) {
		ph, err := holder(r, role)
		if err != nil {
			return nil, err
		}
		name := r.Params.Get("PolicyName")
		doc, err := h.dir.GetPolicy(ctx, caller(r), ph, name)
		if err != nil {
			return nil, err
		}
		if role {
			return &struct {
				RoleName       string `xml:"RoleName"`
				PolicyName     string `xml:"PolicyName"`
				PolicyDocument string `xml:"PolicyDocument"`
			}{ph.Name, name, doc}, nil
		}
		return &struct {
			UserName       string `xml:"UserName"`
			PolicyName     string `xml:"PolicyName"`
			PolicyDocument string `xml:"PolicyDocument"`
		}{ph.Name, name, doc}, nil
	}
}

func (h *handlers) deletePolicy(role bool) awsapi.Handler {
	return func(ctx context.Context, r *awsapi.Request) (any, error) {
		ph, err := holder(r, role)
		if err != nil {
			return nil, err
		}
		return nil, h.dir.DeletePolicy(ctx, caller(r), ph, r.Params.Get("PolicyName"))
	}
}

func (h *handlers) listPolicies(role bool) awsapi.Handler {
	return func(ctx context.Context, r *awsapi.Request) (any, error) {
		ph, err := holder(r, role)
		if err != nil {
			return nil, err
		}
		names, err := h.dir.ListPolicies(ctx, caller(r), ph)
		if err != nil {
			return nil, err
		}
		names, truncated, marker, err := page(r.Params, names, func(s string) string { return s })
		if err != nil {
			return nil, err
		}
		return &struct {
			PolicyNames stringList `xml:"PolicyNames"`
			IsTruncated bool       `xml:"IsTruncated"`
			Marker      string     `xml:"Marker,omitempty"`
		}{stringList{names}, truncated, marker}, nil
	}
}

func (h *handlers) tag(role bool) awsapi.Handler {
	return func(ctx context.Context, r *awsapi.Request) (any, error) {
		ph, err := holder(r, role)
		if err != nil {
			return nil, err
		}
		tags, err := r.Params.Tags("Tags")
		if err != nil {
			return nil, err
		}
		if len(tags) == 0 {
			return nil, validation("1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null")
		}
		return nil, h.dir.TagHolder(ctx, caller(r), ph, tags, nil)
	}
}

func (h *handlers) untag(role bool) awsapi.Handler {
	return func(ctx context.Context, r *awsapi.Request) (any, error) {
		ph, err := holder(r, role)
		if err != nil {
			return nil, err
		}
		keys := r.Params.List("TagKeys")
		if len(keys) == 0 {
			return nil, validation("1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
		}
		return nil, h.dir.TagHolder(ctx, caller(r), ph, nil, keys)
	}
}

func (h *handlers) listTags(role bool) awsapi.Handler {
	return func(ctx context.Context, r *awsapi.Request) (any, error) {
		ph, err := holder(r, role)
		if err != nil {
			return nil, err
		}
		tags, err := h.dir.Tags(ctx, caller(r), ph)
		if err != nil {
			return nil, err
		}
		tags, truncated, marker, err := page(r.Params, append(cloud.Tags(nil), tags...), func(t cloud.Tag) string { return t.Key })
		if err != nil {
			return nil, err
		}
		out := &struct {
			Tags        tagList `xml:"Tags"`
			IsTruncated bool    `xml:"IsTruncated"`
			Marker      string  `xml:"Marker,omitempty"`
		}{IsTruncated: truncated, Marker: marker}
		for _, t := range tags {
			out.Tags.Members = append(out.Tags.Members, xmlTag{Key: t.Key, Value: t.Value})
		}
		return out, nil
	}
}

// putBoundary answers Put{User,Role}PermissionsBoundary: privlink has no
// managed policies, so the ARN is reported as NoSuchEntity (see
// iam.Directory.PutPermissionsBoundary).
func (h *handlers) putBoundary(role bool) awsapi.Handler {
	return func(ctx context.Context, r *awsapi.Request) (any, error) {
		ph, err := holder(r, role)
		if err != nil {
			return nil, err
		}
		return nil, h.dir.PutPermissionsBoundary(ctx, caller(r), ph, r.Params.Get("PermissionsBoundary"))
	}
}
