package controlplane

import (
	"context"
	"crypto/rand"
	"errors"
	"sort"
	"strings"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/dns"
	"github.com/privlink/privlink/internal/store"
)

// Endpoint service states, as DescribeVpcEndpointServiceConfigurations
// reports them.
const (
	ServiceStateAvailable = "Available"
)

// Private DNS name verification states.
const (
	DNSStatePending  = "pendingVerification"
	DNSStateVerified = "verified"
	DNSStateFailed   = "failed"
)

// CreateEndpointServiceInput is CreateVpcEndpointServiceConfiguration's parameters.
type CreateEndpointServiceInput struct {
	NetworkLoadBalancerARNs []string
	GatewayLoadBalancerARNs []string
	AcceptanceRequired      bool
	PrivateDNSName          string
	SupportedIPAddressTypes []string
	SupportedRegions        []string
	Tags                    []TagSpec
	ClientToken             string
}

func serviceARN(c *Call, id string) string {
	return cloud.EC2ARN(c.Region, c.Account(), "vpc-endpoint-service", id)
}

// CustomServiceName is the service name of a customer endpoint service.
func CustomServiceName(region, id string) string { return "com.amazonaws.vpce." + region + "." + id }

func serviceNotFound(id string) *cloud.Error {
	return cloud.Errorf("InvalidVpcEndpointServiceId.NotFound", "The VpcEndpointService Id '%s' does not exist", id)
}

// ownedService fetches the caller's endpoint service or the NotFound error.
func ownedService(tx *store.Tx, c *Call, id string) (*cloud.VpcEndpointService, error) {
	if id == "" {
		return nil, cloud.MissingParameter("ServiceId")
	}
	s := getOwned[cloud.VpcEndpointService](tx, c, cloud.KindVpcEndpointService, id)
	if s == nil {
		return nil, serviceNotFound(id)
	}
	return s, nil
}

// loadBalancerByARN finds a load balancer by its ARN, or nil.
func loadBalancerByARN(tx *store.Tx, arn string) *cloud.LoadBalancer {
	if !tx.HasKind(cloud.KindLoadBalancer) {
		return nil
	}
	if a, err := cloud.ParseARN(arn); err == nil {
		if id, ok := strings.CutPrefix(a.Resource, "loadbalancer/"); ok {
			if lb, ok := store.Get[cloud.LoadBalancer](tx, cloud.KindLoadBalancer, id); ok && lb.ARN == arn {
				return lb
			}
		}
	}
	var found *cloud.LoadBalancer
	tx.Each(cloud.KindLoadBalancer, func(_ string, v any) bool {
		if lb := v.(*cloud.LoadBalancer); lb.ARN == arn {
			found = lb
			return false
		}
		return true
	})
	return found
}

// serviceLoadBalancers checks a set of load balancer ARNs of one type
// ("network" or "gateway") for the caller's service: each exists, is the
// caller's, is of that type and serves no other endpoint service.
func serviceLoadBalancers(tx *store.Tx, c *Call, arns []string, lbType, selfID string) ([]*cloud.LoadBalancer, error) {
	var out []*cloud.LoadBalancer
	seen := map[string]bool{}
	for _, arn := range arns {
		if seen[arn] {
			continue
		}
		seen[arn] = true
		lb := loadBalancerByARN(tx, arn)
		if lb == nil || !visible(c, &lb.Meta) {
			return nil, cloud.Errorf("InvalidParameter", "The load balancer '%s' does not exist.", arn)
		}
		if lb.Type != lbType {
			return nil, cloud.Errorf("InvalidParameter", "The load balancer '%s' is a %s load balancer; a %s load balancer is required.", arn, lb.Type, lbType)
		}
		if lb.State == "failed" {
			return nil, cloud.Errorf("InvalidParameter", "The load balancer '%s' is in state failed.", arn)
		}
		var clash string
		tx.Each(cloud.KindVpcEndpointService, func(id string, v any) bool {
			s := v.(*cloud.VpcEndpointService)
			if id != selfID && (contains1(s.NetworkLoadBalancerARNs, arn) || contains1(s.GatewayLoadBalancerARNs, arn)) {
				clash = id
				return false
			}
			return true
		})
		if clash != "" {
			return nil, cloud.Errorf("InvalidParameter", "The load balancer '%s' is already associated with the VPC endpoint service %s.", arn, clash)
		}
		out = append(out, lb)
	}
	return out, nil
}

// serviceZones is the union of the load balancers' zones, sorted.
func serviceZones(lbs []*cloud.LoadBalancer) []string {
	set := map[string]bool{}
	for _, lb := range lbs {
		for _, az := range lb.AZs {
			set[az.ZoneName] = true
		}
	}
	out := make([]string, 0, len(set))
	for z := range set {
		out = append(out, z)
	}
	sort.Strings(out)
	return out
}

func validateIPTypes(types []string) error {
	for _, t := range types {
		switch t {
		case "ipv4":
		case "ipv6", "dualstack":
			return cloud.Errorf("InvalidParameter", "Supported IP address type %s is not supported by privlink; only ipv4 is.", t)
		default:
			return cloud.InvalidParameterValue("SupportedIpAddressType", t, "Valid values: ipv4, ipv6.")
		}
	}
	return nil
}

func (cp *ControlPlane) validateRegions(regions []string) error {
	for _, r := range regions {
		if _, ok := cp.regions[r]; !ok {
			return cloud.Errorf("InvalidParameter", "The region %s is not a supported region for the service: it is not enabled in privlink.", r)
		}
	}
	return nil
}

// validatePrivateDNSName checks a provider's private DNS name.
func validatePrivateDNSName(name string) error {
	n := strings.ToLower(strings.TrimSuffix(name, "."))
	bare := strings.TrimPrefix(n, "*.")
	if len(n) > 255 || !strings.Contains(bare, ".") || strings.Contains(bare, "*") {
		return cloud.InvalidParameterValue("PrivateDnsName", name, "It must be a valid domain name.")
	}
	for _, label := range strings.Split(bare, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return cloud.InvalidParameterValue("PrivateDnsName", name, "It must be a valid domain name.")
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return cloud.InvalidParameterValue("PrivateDnsName", name, "It must be a valid domain name.")
			}
		}
	}
	if bare == "amazonaws.com" || strings.HasSuffix(bare, ".amazonaws.com") {
		return cloud.Errorf("InvalidParameter", "Private DNS name %s is reserved by AWS.", name)
	}
	return nil
}

// randomLabel returns n random lowercase letters and digits.
func randomLabel(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return cloud.RandomToken(n)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// newDNSConfig is a fresh verification challenge for a private DNS name.
func newDNSConfig() *cloud.PrivateDNSNameConfiguration {
	return &cloud.PrivateDNSNameConfiguration{State: DNSStatePending, Type: "TXT", Name: "_" + randomLabel(20), Value: "vpce:" + randomLabel(20)}
}

// CreateVpcEndpointServiceConfiguration creates an endpoint service in
// front of the caller's network or gateway load balancers.
func (cp *ControlPlane) CreateVpcEndpointServiceConfiguration(ctx context.Context, c *Call, in CreateEndpointServiceInput) (*cloud.VpcEndpointService, error) {
	nlb, gwlb := len(in.NetworkLoadBalancerARNs) > 0, len(in.GatewayLoadBalancerARNs) > 0
	switch {
	case !nlb && !gwlb:
		return nil, cloud.Errorf("InvalidParameter", "Must specify at least one of network load balancer ARNs or gateway load balancer ARNs.")
	case nlb && gwlb:
		return nil, cloud.Errorf("InvalidParameter", "A VPC endpoint service can use network load balancers or gateway load balancers, not both.")
	}
	if in.PrivateDNSName != "" {
		if gwlb {
			return nil, cloud.Errorf("InvalidParameter", "Private DNS names are not supported for Gateway Load Balancer endpoint services.")
		}
		if err := validatePrivateDNSName(in.PrivateDNSName); err != nil {
			return nil, err
		}
	}
	if err := validateIPTypes(in.SupportedIPAddressTypes); err != nil {
		return nil, err
	}
	if err := cp.validateRegions(in.SupportedRegions); err != nil {
		return nil, err
	}
	if _, err := cp.region(c); err != nil {
		return nil, err
	}
	tags, err := tagsFor(in.Tags, "vpc-endpoint-service")
	if err != nil {
		return nil, err
	}
	if err := cp.authorize(ctx, c, serviceARN(c, "*")); err != nil {
		return nil, err
	}
	var svc *cloud.VpcEndpointService
	err = cp.db.Update(ctx, func(tx *store.Tx) error {
		if id, err := idempotent(tx, c, in.ClientToken, in); err != nil || id != "" {
			if err == nil {
				svc, _ = store.Get[cloud.VpcEndpointService](tx, cloud.KindVpcEndpointService, id)
			}
			return err
		}
		lbType, arns := "network", in.NetworkLoadBalancerARNs
		if gwlb {
			lbType, arns = "gateway", in.GatewayLoadBalancerARNs
		}
		lbs, err := serviceLoadBalancers(tx, c, arns, lbType, "")
		if err != nil {
			return err
		}
		id := cloud.NewID("vpce-svc")
		name := CustomServiceName(c.Region, id)
		base, err := dns.ServiceBaseDNSName(name, c.Region)
		if err != nil {
			return err
		}
		svc = &cloud.VpcEndpointService{
			Meta:                    cp.newMeta(c, id, tags),
			ServiceName:             name,
			ServiceType:             cloud.EndpointInterface,
			ServiceState:            ServiceStateAvailable,
			AcceptanceRequired:      in.AcceptanceRequired,
			SupportedIPAddressTypes: []string{"ipv4"},
			SupportedRegions:        withHomeRegion(c.Region, in.SupportedRegions),
			AvailabilityZones:       serviceZones(lbs),
			BaseEndpointDNSNames:    []string{base},
			PayerResponsibility:     "ServiceOwner",
		}
		for _, lb := range lbs {
			if gwlb {
				svc.GatewayLoadBalancerARNs = append(svc.GatewayLoadBalancerARNs, lb.ARN)
			} else {
				svc.NetworkLoadBalancerARNs = append(svc.NetworkLoadBalancerARNs, lb.ARN)
			}
		}
		if gwlb {
			svc.ServiceType = cloud.EndpointGatewayLoadBalancer
		}
		if in.PrivateDNSName != "" {
			svc.PrivateDNSName = strings.ToLower(strings.TrimSuffix(in.PrivateDNSName, "."))
			svc.PrivateDNSNameConfig = newDNSConfig()
		}
		tx.Put(cloud.KindVpcEndpointService, id, svc)
		cp.rememberToken(tx, c, in.ClientToken, in, id)
		return nil
	})
	return svc, err
}

func withHomeRegion(home string, regions []string) []string {
	out := []string{home}
	for _, r := range regions {
		if !contains1(out, r) {
			out = append(out, r)
		}
	}
	return out
}

var serviceConfigFilters = filterer[cloud.VpcEndpointService]{
	tags: func(s *cloud.VpcEndpointService) cloud.Tags { return s.Tags },
	fields: fields[cloud.VpcEndpointService]{
		"service-name":               func(s *cloud.VpcEndpointService) []string { return one(s.ServiceName) },
		"service-id":                 func(s *cloud.VpcEndpointService) []string { return one(s.ID) },
		"service-state":              func(s *cloud.VpcEndpointService) []string { return one(s.ServiceState) },
		"supported-ip-address-types": func(s *cloud.VpcEndpointService) []string { return s.SupportedIPAddressTypes },
	},
}

// DescribeVpcEndpointServiceConfigurations lists the caller's endpoint services.
func (cp *ControlPlane) DescribeVpcEndpointServiceConfigurations(ctx context.Context, c *Call, in DescribeInput) ([]*cloud.VpcEndpointService, string, error) {
	return describe(ctx, cp, c, in, cloud.KindVpcEndpointService, serviceConfigFilters, "InvalidVpcEndpointServiceId.NotFound", "VpcEndpointService Id", func(s *cloud.VpcEndpointService) string { return s.ID })
}

// ModifyEndpointServiceInput is ModifyVpcEndpointServiceConfiguration's parameters.
type ModifyEndpointServiceInput struct {
	ServiceID                     string
	PrivateDNSName                string
	RemovePrivateDNSName          bool
	AcceptanceRequired            *bool
	AddNetworkLoadBalancerARNs    []string
	RemoveNetworkLoadBalancerARNs []string
	AddGatewayLoadBalancerARNs    []string
	RemoveGatewayLoadBalancerARNs []string
	AddSupportedIPAddressTypes    []string
	RemoveSupportedIPAddressTypes []string
	AddSupportedRegions           []string
	RemoveSupportedRegions        []string
}

// ModifyVpcEndpointServiceConfiguration changes a service's load balancers,
// acceptance, private DNS name, IP address types and regions.
func (cp *ControlPlane) ModifyVpcEndpointServiceConfiguration(ctx context.Context, c *Call, in ModifyEndpointServiceInput) error {
	if in.PrivateDNSName != "" && in.RemovePrivateDNSName {
		return cloud.Errorf("InvalidParameterCombination", "PrivateDnsName and RemovePrivateDnsName cannot both be specified.")
	}
	if in.PrivateDNSName != "" {
		if err := validatePrivateDNSName(in.PrivateDNSName); err != nil {
			return err
		}
	}
	if err := validateIPTypes(in.AddSupportedIPAddressTypes); err != nil {
		return err
	}
	if err := cp.validateRegions(in.AddSupportedRegions); err != nil {
		return err
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		old, err := ownedService(tx, c, in.ServiceID)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, serviceARN(c, old.ID)); err != nil {
			return err
		}
		s := store.Clone(old)
		gwlb := s.ServiceType == cloud.EndpointGatewayLoadBalancer
		if gwlb && (len(in.AddNetworkLoadBalancerARNs) > 0 || len(in.RemoveNetworkLoadBalancerARNs) > 0) {
			return cloud.Errorf("InvalidParameter", "Network load balancers cannot be added to or removed from a Gateway Load Balancer endpoint service.")
		}
		if !gwlb && (len(in.AddGatewayLoadBalancerARNs) > 0 || len(in.RemoveGatewayLoadBalancerARNs) > 0) {
			return cloud.Errorf("InvalidParameter", "Gateway load balancers cannot be added to or removed from a Network Load Balancer endpoint service.")
		}
		if gwlb && in.PrivateDNSName != "" {
			return cloud.Errorf("InvalidParameter", "Private DNS names are not supported for Gateway Load Balancer endpoint services.")
		}
		lbType, have, add, remove := "network", s.NetworkLoadBalancerARNs, in.AddNetworkLoadBalancerARNs, in.RemoveNetworkLoadBalancerARNs
		if gwlb {
			lbType, have, add, remove = "gateway", s.GatewayLoadBalancerARNs, in.AddGatewayLoadBalancerARNs, in.RemoveGatewayLoadBalancerARNs
		}
		for _, arn := range remove {
			if !contains1(have, arn) {
				return cloud.Errorf("InvalidParameter", "The load balancer '%s' is not associated with the service %s.", arn, s.ID)
			}
		}
		var next []string
		for _, arn := range have {
			if !contains1(remove, arn) {
				next = append(next, arn)
			}
		}
		for _, arn := range add {
			if !contains1(next, arn) {
				next = append(next, arn)
			}
		}
		if len(next) == 0 {
			return cloud.Errorf("InvalidParameter", "Cannot remove the last load balancer of the VPC endpoint service %s.", s.ID)
		}
		lbs, err := serviceLoadBalancers(tx, c, next, lbType, s.ID)
		if err != nil {
			return err
		}
		if gwlb {
			s.GatewayLoadBalancerARNs = next
		} else {
			s.NetworkLoadBalancerARNs = next
		}
		s.AvailabilityZones = serviceZones(lbs)
		if in.AcceptanceRequired != nil {
			s.AcceptanceRequired = *in.AcceptanceRequired
		}
		switch {
		case in.RemovePrivateDNSName:
			s.PrivateDNSName, s.PrivateDNSNameConfig = "", nil
		case in.PrivateDNSName != "":
			name := strings.ToLower(strings.TrimSuffix(in.PrivateDNSName, "."))
			if name != s.PrivateDNSName || s.PrivateDNSNameConfig == nil {
				s.PrivateDNSName, s.PrivateDNSNameConfig = name, newDNSConfig()
			}
		}
		types := append([]string(nil), s.SupportedIPAddressTypes...)
		for _, t := range in.AddSupportedIPAddressTypes {
			if !contains1(types, t) {
				types = append(types, t)
			}
		}
		types = without(types, in.RemoveSupportedIPAddressTypes)
		if len(types) == 0 {
			return cloud.Errorf("InvalidParameter", "A VPC endpoint service must support at least one IP address type.")
		}
		s.SupportedIPAddressTypes = types
		for _, r := range in.RemoveSupportedRegions {
			if r == s.Region {
				return cloud.Errorf("InvalidParameter", "The service region %s cannot be removed from the supported regions.", r)
			}
		}
		s.SupportedRegions = without(withHomeRegion(s.Region, append(append([]string(nil), s.SupportedRegions...), in.AddSupportedRegions...)), in.RemoveSupportedRegions)
		tx.Put(cloud.KindVpcEndpointService, s.ID, s)
		return nil
	})
}

func without(list, drop []string) []string {
	var out []string
	for _, v := range list {
		if !contains1(drop, v) {
			out = append(out, v)
		}
	}
	return out
}

// Unsuccessful is one failed item of a batch call.
type Unsuccessful struct {
	ResourceID string
	Code       string
	Message    string
}

func unsuccessful(id string, err *cloud.Error) Unsuccessful {
	return Unsuccessful{ResourceID: id, Code: err.Code, Message: err.Message}
}

// connectedStates are endpoint states that keep a service from deletion.
var connectedStates = []string{cloud.StatePendingAcceptance, cloud.StatePending, cloud.StateAvailable}

// DeleteVpcEndpointServiceConfigurations deletes services with no connected
// endpoints; each refused service is reported, the others deleted.
func (cp *ControlPlane) DeleteVpcEndpointServiceConfigurations(ctx context.Context, c *Call, ids []string) ([]Unsuccessful, error) {
	if len(ids) == 0 {
		return nil, cloud.MissingParameter("ServiceId")
	}
	var failed []Unsuccessful
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		failed = nil
		for _, id := range ids {
			s := getOwned[cloud.VpcEndpointService](tx, c, cloud.KindVpcEndpointService, id)
			if s == nil {
				failed = append(failed, unsuccessful(id, serviceNotFound(id)))
				continue
			}
			if err := cp.authorize(ctx, c, serviceARN(c, id)); err != nil {
				return err
			}
			busy := false
			tx.Each(cloud.KindVpcEndpoint, func(_ string, v any) bool {
				ep := v.(*cloud.VpcEndpoint)
				busy = ep.ServiceID == id && contains1(connectedStates, ep.State)
				return !busy
			})
			if busy {
				failed = append(failed, Unsuccessful{ResourceID: id, Code: "ExistingVpcEndpointConnections", Message: "Service has existing active VPC Endpoint connections"})
				continue
			}
			tx.Delete(cloud.KindVpcEndpointService, id)
			for _, n := range store.List[cloud.ConnectionNotification](tx, cloud.KindConnectionNotification, func(n *cloud.ConnectionNotification) bool { return n.ServiceID == id }) {
				tx.Delete(cloud.KindConnectionNotification, n.ID)
			}
		}
		return nil
	})
	return failed, err
}

// StartVpcEndpointServicePrivateDnsVerification asks for the service's
// private DNS name to be verified again; the controller then calls
// VerifyServicePrivateDNS.
func (cp *ControlPlane) StartVpcEndpointServicePrivateDnsVerification(ctx context.Context, c *Call, serviceID string) error {
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		old, err := ownedService(tx, c, serviceID)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, serviceARN(c, old.ID)); err != nil {
			return err
		}
		if old.PrivateDNSName == "" || old.PrivateDNSNameConfig == nil {
			return cloud.Errorf("InvalidParameter", "The VPC endpoint service %s has no private DNS name to verify.", serviceID)
		}
		if old.PrivateDNSNameConfig.State == DNSStateVerified {
			return nil
		}
		s := store.Clone(old)
		conf := *s.PrivateDNSNameConfig
		conf.State = DNSStatePending
		s.PrivateDNSNameConfig = &conf
		tx.Put(cloud.KindVpcEndpointService, s.ID, s)
		return nil
	})
}

// PrivateDNSVerificationName is the TXT record name a provider publishes to
// prove it owns the service's private DNS domain: <record name>.<domain>.
func PrivateDNSVerificationName(s *cloud.VpcEndpointService) string {
	if s.PrivateDNSNameConfig == nil || s.PrivateDNSName == "" {
		return ""
	}
	return s.PrivateDNSNameConfig.Name + "." + strings.TrimPrefix(s.PrivateDNSName, "*.")
}

// VerifyServicePrivateDNS looks up the verification TXT record of a service
// in pendingVerification and moves it to verified (the value is present) or
// failed (the name has no such record). Lookup failures other than "no such
// name" or "no data" are returned so that the controller retries.
func (cp *ControlPlane) VerifyServicePrivateDNS(ctx context.Context, serviceID string, lookupTXT func(ctx context.Context, name string) ([]string, error)) error {
	var snapshot *cloud.VpcEndpointService
	cp.db.View(func(tx *store.Tx) error {
		snapshot, _ = store.Get[cloud.VpcEndpointService](tx, cloud.KindVpcEndpointService, serviceID)
		return nil
	})
	if snapshot == nil {
		return serviceNotFound(serviceID)
	}
	if snapshot.PrivateDNSNameConfig == nil || snapshot.PrivateDNSNameConfig.State != DNSStatePending {
		return nil
	}
	want := snapshot.PrivateDNSNameConfig.Value
	values, err := lookupTXT(ctx, PrivateDNSVerificationName(snapshot))
	state := DNSStateFailed
	switch {
	case err == nil:
		for _, v := range values {
			if strings.TrimSpace(strings.Trim(v, `"`)) == want {
				state = DNSStateVerified
			}
		}
	case isNoRecord(err):
	default:
		return err
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		cur, ok := store.Get[cloud.VpcEndpointService](tx, cloud.KindVpcEndpointService, serviceID)
		if !ok || cur.PrivateDNSNameConfig == nil || cur.PrivateDNSNameConfig.Value != want || cur.PrivateDNSName != snapshot.PrivateDNSName || cur.PrivateDNSNameConfig.State != DNSStatePending {
			return nil // changed meanwhile: the next verification decides
		}
		s := store.Clone(cur)
		conf := *s.PrivateDNSNameConfig
		conf.State = state
		s.PrivateDNSNameConfig = &conf
		tx.Put(cloud.KindVpcEndpointService, s.ID, s)
		return nil
	})
}

func isNoRecord(err error) bool {
	return errors.Is(err, dns.ErrNXDomain) || errors.Is(err, dns.ErrNoData)
}
