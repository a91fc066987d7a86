package controlplane

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/dns"
	"github.com/privlink/privlink/internal/store"
)

// principalType classifies an allowed principal as AWS does, or reports it
// malformed.
func principalType(p string) (string, bool) {
	if p == "*" {
		return "All", true
	}
	if strings.HasSuffix(p, ".amazonaws.com") && !strings.HasPrefix(p, "arn:") && !strings.ContainsAny(p, " *") {
		return "Service", true
	}
	a, err := cloud.ParseARN(p)
	if err != nil || a.Partition != "aws" {
		return "", false
	}
	switch {
	case a.Service == "iam" && a.Region == "" && cloud.IsAccountID(a.Account) && a.Resource == "root":
		return "Account", true
	case a.Service == "iam" && a.Region == "" && cloud.IsAccountID(a.Account) && strings.HasPrefix(a.Resource, "user/") && len(a.Resource) > len("user/"):
		return "User", true
	case a.Service == "iam" && a.Region == "" && cloud.IsAccountID(a.Account) && strings.HasPrefix(a.Resource, "role/") && len(a.Resource) > len("role/"):
		return "Role", true
	case a.Service == "organizations" && a.Region == "" && (strings.HasPrefix(a.Resource, "organization/o-") || strings.HasPrefix(a.Resource, "ou/o-")):
		return "OrganizationUnit", true
	}
	return "", false
}

// principalAllowed reports whether an allowed-principal entry admits the caller.
func principalAllowed(allowed string, p *cloud.Principal) bool {
	if p == nil {
		return false
	}
	switch allowed {
	case "*", cloud.AccountRootARN(p.AccountID), p.ARN:
		return true
	}
	a, err := cloud.ParseARN(allowed)
	if err != nil || a.Service != "iam" || a.Account != p.AccountID || p.Name == "" {
		return false
	}
	// A user or role ARN with a path admits the user, or the role's sessions.
	switch p.Type {
	case cloud.PrincipalUser:
		return strings.HasPrefix(a.Resource, "user/") && strings.HasSuffix(a.Resource, "/"+p.Name)
	case cloud.PrincipalAssumedRole:
		return strings.HasPrefix(a.Resource, "role/") && strings.HasSuffix(a.Resource, "/"+p.Name)
	}
	return false
}

// mayUseService reports whether the caller may see and connect to a custom
// service: its own, or one whose permissions admit the caller.
func mayUseService(c *Call, s *cloud.VpcEndpointService) bool {
	if s.Region != c.Region || s.ServiceState != ServiceStateAvailable {
		return false
	}
	if s.OwnerID == c.Account() {
		return true
	}
	for _, ap := range s.AllowedPrincipals {
		if principalAllowed(ap.Principal, c.Caller) {
			return true
		}
	}
	return false
}

// ServicePermissions is DescribeVpcEndpointServicePermissions's result.
type ServicePermissions struct {
	ServiceID  string
	Principals []*cloud.AllowedPrincipal
}

var permissionFilters = filterer[cloud.AllowedPrincipal]{
	tags: func(p *cloud.AllowedPrincipal) cloud.Tags { return p.Tags },
	fields: fields[cloud.AllowedPrincipal]{
		"principal":      func(p *cloud.AllowedPrincipal) []string { return one(p.Principal) },
		"principal-type": func(p *cloud.AllowedPrincipal) []string { return one(p.PrincipalType) },
	},
}

// DescribeVpcEndpointServicePermissions lists who may connect to a service.
func (cp *ControlPlane) DescribeVpcEndpointServicePermissions(ctx context.Context, c *Call, serviceID string, filters []cloud.Filter, page Page) ([]*cloud.AllowedPrincipal, string, error) {
	if err := cp.checkDryRun(ctx, c); err != nil {
		return nil, "", err
	}
	keep, err := permissionFilters.compile(filters)
	if err != nil {
		return nil, "", err
	}
	var out []*cloud.AllowedPrincipal
	err = cp.db.View(func(tx *store.Tx) error {
		s, err := ownedService(tx, c, serviceID)
		if err != nil {
			return err
		}
		for i := range s.AllowedPrincipals {
			if p := &s.AllowedPrincipals[i]; keep(p) {
				out = append(out, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return paginate(out, func(p *cloud.AllowedPrincipal) string { return p.ID }, page, 5, 1000)
}

// ModifyVpcEndpointServicePermissions adds and removes allowed principals.
// Removing a principal does not cut its existing connections, as in AWS.
// It returns the added principals (existing ones keep their IDs).
func (cp *ControlPlane) ModifyVpcEndpointServicePermissions(ctx context.Context, c *Call, serviceID string, add, remove []string) ([]cloud.AllowedPrincipal, error) {
	for _, p := range append(append([]string(nil), add...), remove...) {
		if _, ok := principalType(p); !ok {
			return nil, cloud.Errorf("InvalidPrincipal", "Invalid principal %s", p)
		}
	}
	var added []cloud.AllowedPrincipal
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		added = nil
		old, err := ownedService(tx, c, serviceID)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, serviceARN(c, old.ID)); err != nil {
			return err
		}
		var next []cloud.AllowedPrincipal
		for _, ap := range old.AllowedPrincipals {
			if !contains1(remove, ap.Principal) {
				next = append(next, ap)
			}
		}
	adding:
		for _, p := range add {
			for _, ap := range next {
				if ap.Principal == p {
					added = append(added, ap)
					continue adding
				}
			}
			typ, _ := principalType(p)
			ap := cloud.AllowedPrincipal{Principal: p, PrincipalType: typ, ID: cloud.NewID("vpce-svc-perm")}
			next = append(next, ap)
			added = append(added, ap)
		}
		s := store.Clone(old)
		s.AllowedPrincipals = next
		tx.Put(cloud.KindVpcEndpointService, s.ID, s)
		return nil
	})
	return added, err
}

// ServiceDetail is one row of DescribeVpcEndpointServices: an AWS service
// (owner "amazon") or a custom service the caller may use.
type ServiceDetail struct {
	ServiceName                     string
	ServiceID                       string
	ServiceType                     string
	ServiceRegion                   string
	AvailabilityZones               []string
	AvailabilityZoneIDs             []string
	Owner                           string
	BaseEndpointDNSNames            []string
	PrivateDNSName                  string
	PrivateDNSNames                 []string
	VpcEndpointPolicySupported      bool
	AcceptanceRequired              bool
	ManagesVpcEndpoints             bool
	PayerResponsibility             string
	PrivateDNSNameVerificationState string
	SupportedIPAddressTypes         []string
	Tags                            cloud.Tags

	// custom is the provider's record (nil for AWS services).
	custom *cloud.VpcEndpointService
}

// awsServiceID derives a stable vpce-svc- ID for an AWS service entry.
func awsServiceID(name, typ string) string {
	h := fnv.New64a()
	h.Write([]byte(name + "/" + typ))
	return fmt.Sprintf("vpce-svc-0%016x", h.Sum64())
}

func (cp *ControlPlane) awsServiceDetails(region cloud.Region) []*ServiceDetail {
	var zones, zoneIDs []string
	for _, az := range region.AZs {
		zones, zoneIDs = append(zones, az.Name), append(zoneIDs, az.ID)
	}
	var out []*ServiceDetail
	for _, s := range cloud.AWSServices() {
		name := cloud.AWSServiceName(region.Name, s.Short)
		row := func(typ string) *ServiceDetail {
			return &ServiceDetail{
				ServiceName: name, ServiceID: awsServiceID(name, typ), ServiceType: typ, ServiceRegion: region.Name,
				AvailabilityZones: zones, AvailabilityZoneIDs: zoneIDs, Owner: "amazon",
				VpcEndpointPolicySupported: s.PolicySupported, PayerResponsibility: "ServiceOwner",
				SupportedIPAddressTypes: []string{"ipv4"},
			}
		}
		if s.Gateway {
			d := row(cloud.EndpointGateway)
			d.BaseEndpointDNSNames = []string{s.Short + "." + region.Name + ".amazonaws.com"}
			out = append(out, d)
		}
		if s.Interface {
			d := row(cloud.EndpointInterface)
			if base, err := dns.ServiceBaseDNSName(name, region.Name); err == nil {
				d.BaseEndpointDNSNames = []string{base}
			}
			if names, err := dns.ServicePrivateDNSNames(name, region.Name); err == nil {
				d.PrivateDNSName, d.PrivateDNSNames = names[0], names
				d.PrivateDNSNameVerificationState = DNSStateVerified
			}
			out = append(out, d)
		}
	}
	return out
}

func customServiceDetail(c *Call, region cloud.Region, s *cloud.VpcEndpointService) *ServiceDetail {
	d := &ServiceDetail{
		ServiceName: s.ServiceName, ServiceID: s.ID, ServiceType: s.ServiceType, ServiceRegion: s.Region,
		AvailabilityZones: s.AvailabilityZones, Owner: s.OwnerID, BaseEndpointDNSNames: s.BaseEndpointDNSNames,
		AcceptanceRequired: s.AcceptanceRequired, ManagesVpcEndpoints: s.ManagesVpcEndpoints,
		PayerResponsibility: s.PayerResponsibility, SupportedIPAddressTypes: s.SupportedIPAddressTypes, custom: s,
	}
	for _, z := range s.AvailabilityZones {
		if az, ok := region.AZ(z); ok {
			d.AvailabilityZoneIDs = append(d.AvailabilityZoneIDs, az.ID)
		}
	}
	if s.PrivateDNSNameConfig != nil {
		d.PrivateDNSNameVerificationState = s.PrivateDNSNameConfig.State
		if s.PrivateDNSNameConfig.State == DNSStateVerified {
			d.PrivateDNSName, d.PrivateDNSNames = s.PrivateDNSName, []string{s.PrivateDNSName}
		}
	}
	if s.OwnerID == c.Account() {
		d.Tags = s.Tags
	}
	return d
}

var serviceDetailFilters = filterer[ServiceDetail]{
	tags: func(d *ServiceDetail) cloud.Tags { return d.Tags },
	fields: fields[ServiceDetail]{
		"service-name":               func(d *ServiceDetail) []string { return one(d.ServiceName) },
		"service-type":               func(d *ServiceDetail) []string { return one(d.ServiceType) },
		"service-region":             func(d *ServiceDetail) []string { return one(d.ServiceRegion) },
		"owner":                      func(d *ServiceDetail) []string { return one(d.Owner) },
		"supported-ip-address-types": func(d *ServiceDetail) []string { return d.SupportedIPAddressTypes },
	},
}

func invalidServiceName(name string) *cloud.Error {
	return cloud.Errorf("InvalidServiceName", "The Vpc Endpoint Service '%s' does not exist", name)
}

// DescribeEndpointServicesInput is DescribeVpcEndpointServices's parameters.
type DescribeEndpointServicesInput struct {
	ServiceNames   []string
	ServiceRegions []string
	Filters        []cloud.Filter
	Page           Page
}

// DescribeVpcEndpointServices lists the services the caller can create
// endpoints for: the region's AWS services and the custom services the
// caller owns or is allowed to use. A named service the caller may not use
// is InvalidServiceName, as if it did not exist.
func (cp *ControlPlane) DescribeVpcEndpointServices(ctx context.Context, c *Call, in DescribeEndpointServicesInput) ([]string, []*ServiceDetail, string, error) {
	if err := cp.checkDryRun(ctx, c); err != nil {
		return nil, nil, "", err
	}
	region, err := cp.region(c)
	if err != nil {
		return nil, nil, "", err
	}
	for _, r := range in.ServiceRegions {
		if r != c.Region {
			return nil, nil, "", cloud.Errorf("InvalidParameter", "Cross-region endpoint services are not modelled by privlink: service region %s must be the call's region %s.", r, c.Region)
		}
	}
	keep, err := serviceDetailFilters.compile(in.Filters)
	if err != nil {
		return nil, nil, "", err
	}
	all := cp.awsServiceDetails(region)
	cp.db.View(func(tx *store.Tx) error {
		tx.Each(cloud.KindVpcEndpointService, func(_ string, v any) bool {
			if s := v.(*cloud.VpcEndpointService); mayUseService(c, s) {
				all = append(all, customServiceDetail(c, region, s))
			}
			return true
		})
		return nil
	})
	want := idSet(in.ServiceNames)
	for name := range want {
		found := false
		for _, d := range all {
			found = found || d.ServiceName == name
		}
		if !found {
			return nil, nil, "", invalidServiceName(name)
		}
	}
	var rows []*ServiceDetail
	for _, d := range all {
		if (want == nil || want[d.ServiceName]) && keep(d) {
			rows = append(rows, d)
		}
	}
	key := func(d *ServiceDetail) string { return d.ServiceName + "\x00" + d.ServiceType }
	sort.Slice(rows, func(i, j int) bool { return key(rows[i]) < key(rows[j]) })
	rows, next, err := paginate(rows, key, in.Page, 5, 1000)
	if err != nil {
		return nil, nil, "", err
	}
	var names []string
	for _, d := range rows {
		if len(names) == 0 || names[len(names)-1] != d.ServiceName {
			names = append(names, d.ServiceName)
		}
	}
	return names, rows, next, nil
}

// endpointService is the service an endpoint connects to, resolved for the
// caller: an AWS catalog service or an allowed custom service.
type endpointService struct {
	name   string
	aws    *cloud.AWSService
	custom *cloud.VpcEndpointService
}

// resolveService finds the service named name for the caller, or
// InvalidServiceName.
func (cp *ControlPlane) resolveService(tx *store.Tx, c *Call, name string) (*endpointService, error) {
	if s, ok := cloud.LookupAWSService(c.Region, name); ok {
		return &endpointService{name: name, aws: &s}, nil
	}
	prefix := "com.amazonaws.vpce." + c.Region + "."
	if id, ok := strings.CutPrefix(name, prefix); ok && strings.HasPrefix(id, "vpce-svc-") {
		if s, ok := store.Get[cloud.VpcEndpointService](tx, cloud.KindVpcEndpointService, id); ok && s.ServiceName == name && mayUseService(c, s) {
			return &endpointService{name: name, custom: s}, nil
		}
	}
	return nil, invalidServiceName(name)
}

// offers reports whether the service offers an endpoint type.
func (s *endpointService) offers(typ string) bool {
	if s.aws != nil {
		return typ == cloud.EndpointInterface && s.aws.Interface || typ == cloud.EndpointGateway && s.aws.Gateway
	}
	return s.custom.ServiceType == typ
}

// zones are the availability zones the service is offered in.
func (s *endpointService) zones(r cloud.Region) []string {
	if s.custom != nil {
		return s.custom.AvailabilityZones
	}
	var out []string
	for _, az := range r.AZs {
		out = append(out, az.Name)
	}
	return out
}

func (s *endpointService) policySupported() bool { return s.aws != nil && s.aws.PolicySupported }

// privateNames are the names a private-DNS endpoint answers: the AWS
// service's names, or the custom service's verified private DNS name.
func (s *endpointService) privateNames(region string) []string {
	if s.aws != nil {
		names, err := dns.ServicePrivateDNSNames(s.name, region)
		if err != nil {
			return nil
		}
		return names
	}
	if s.custom.PrivateDNSName != "" && s.custom.PrivateDNSNameConfig != nil && s.custom.PrivateDNSNameConfig.State == DNSStateVerified {
		return []string{s.custom.PrivateDNSName}
	}
	return nil
}

// needsAcceptance reports whether a new endpoint of the caller waits for
// the provider (pendingAcceptance).
func (s *endpointService) needsAcceptance(c *Call) bool {
	return s.custom != nil && s.custom.AcceptanceRequired && s.custom.OwnerID != c.Account()
}

func (s *endpointService) id() string {
	if s.custom != nil {
		return s.custom.ID
	}
	return ""
}
