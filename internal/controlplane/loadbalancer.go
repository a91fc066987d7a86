package controlplane

import (
	"context"
	"encoding/hex"
	"sort"
	"strings"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// privlink models the two ELBv2 load balancer types PrivateLink uses:
// Network Load Balancers (endpoint services) and Gateway Load Balancers
// (GWLB endpoints). Application Load Balancers are refused.
const (
	LBTypeNetwork = "network"
	LBTypeGateway = "gateway"

	LBStateProvisioning = "provisioning"
	LBStateActive       = "active"
)

// lbQuota is the default quota of load balancers per account and Region.
var lbQuota = map[string]int{LBTypeNetwork: 50, LBTypeGateway: 100}

// maxElbTags is ELBv2's tag limit per resource.
const maxElbTags = 50

// nlbHostedZones are the Route 53 zones of Network Load Balancer DNS names.
var nlbHostedZones = map[string]string{
	"us-east-1": "Z26RNL4JYFTOTI", "us-east-2": "ZLMOA37VPKANP", "us-west-1": "Z24FKFUX50B4VW",
	"us-west-2": "Z18D5FSROUN65G", "ca-central-1": "Z2EPGBW3API2WT", "sa-east-1": "ZTK26PT1VY4CU",
	"eu-west-1": "Z2IFOLAFXWLO4F", "eu-west-2": "ZD4D7Y8KGAS4G", "eu-west-3": "Z1CMS0P5QUZ6D5",
	"eu-central-1": "Z3F0SRJ5LGBH90", "eu-north-1": "Z1UDT6IFJ4EJM", "eu-south-1": "Z23146JA1KNAFP",
	"ap-south-1": "ZVDDRBQ08TROA", "ap-northeast-1": "Z31USIVHYNEOWT", "ap-northeast-2": "ZIBE1TIR4HY56",
	"ap-northeast-3": "Z1GWIQ4HH19I5X", "ap-southeast-1": "ZKVM4W9LS7TM", "ap-southeast-2": "ZCT6FZBF4DROD",
	"af-south-1": "Z203XCE67M25HM", "me-south-1": "Z3QSRYVP46NYYV",
}

// elbValidation is ELBv2's ValidationError.
func elbValidation(format string, args ...any) *cloud.Error {
	return cloud.Errorf("ValidationError", format, args...)
}

// elbMissing is the ValidationError of an absent required parameter.
func elbMissing(name string) *cloud.Error {
	return elbValidation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", name)
}

// elbARN builds an ELBv2 ARN for resource ("loadbalancer/net/x/…").
func elbARN(c *Call, resource string) string {
	return "arn:aws:elasticloadbalancing:" + c.Region + ":" + c.Account() + ":" + resource
}

// elbResourceID returns the part of arn after "<kind>/" if arn is an ELBv2
// ARN of the caller's account and region; ok is false for a well-formed ARN
// of another account or region (it then behaves as not found).
func elbResourceID(c *Call, arn, kind, what string) (id string, ok bool, err error) {
	a, perr := cloud.ParseARN(arn)
	if perr != nil || a.Service != "elasticloadbalancing" || !strings.HasPrefix(a.Resource, kind+"/") || len(a.Resource) == len(kind)+1 {
		return "", false, elbValidation("'%s' is not a valid %s ARN", arn, what)
	}
	if a.Account != c.Account() || a.Region != c.Region || a.Partition != "aws" {
		return "", false, nil
	}
	return strings.TrimPrefix(a.Resource, kind+"/"), true, nil
}

// validElbName checks the naming rules load balancers and target groups share.
func validElbName(what, name string) error {
	if name == "" {
		return elbMissing("name")
	}
	if len(name) > 32 {
		return elbValidation("%s name '%s' cannot be longer than '32' characters", what, name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return elbValidation("%s name '%s' can only contain characters that are alphanumeric characters or hyphens(-)", what, name)
		}
	}
	if strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-") {
		return elbValidation("%s name '%s' cannot begin or end with '-' character", what, name)
	}
	if strings.HasPrefix(strings.ToLower(name), "internal-") {
		return elbValidation("%s name '%s' cannot begin with 'internal-'", what, name)
	}
	return nil
}

// elbPage is ELBv2's Marker/PageSize pagination (PageSize 1–400).
func elbPage[T any](items []*T, id func(*T) string, marker string, pageSize *int) ([]*T, string, error) {
	if pageSize != nil && (*pageSize < 1 || *pageSize > 400) {
		return nil, "", elbValidation("1 validation error detected: Value '%d' at 'pageSize' failed to satisfy constraint: Member must have value between 1 and 400", *pageSize)
	}
	if marker != "" {
		if _, err := hex.DecodeString(marker); err != nil {
			return nil, "", elbValidation("Invalid marker '%s'", marker)
		}
	}
	return paginate(items, id, Page{MaxResults: pageSize, NextToken: marker}, 1, 400)
}

// validElbTags checks tags as ELBv2 does (keys unique per request, no aws: prefix).
func validElbTags(tags cloud.Tags) error {
	seen := map[string]bool{}
	for _, t := range tags {
		if seen[t.Key] {
			return cloud.Errorf("DuplicateTagKeys", "Tag key '%s' is duplicated in the request", t.Key)
		}
		seen[t.Key] = true
		switch {
		case t.Key == "" || len(t.Key) > 128:
			return elbValidation("Tag key '%s' must be between 1 and 128 characters", t.Key)
		case len(t.Value) > 256:
			return elbValidation("Tag value of key '%s' must be at most 256 characters", t.Key)
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return elbValidation("Tag key '%s' cannot start with 'aws:', which is reserved for AWS use", t.Key)
		}
	}
	if len(tags) > maxElbTags {
		return cloud.Errorf("TooManyTags", "The quota for the number of tags that can be assigned to a resource has been reached")
	}
	return nil
}

// SubnetMapping is one SubnetMappings entry of CreateLoadBalancer.
type SubnetMapping struct {
	SubnetID           string
	PrivateIPv4Address string
	AllocationID       string
	IPv6Address        string
}

// CreateLoadBalancerInput is CreateLoadBalancer's parameters.
type CreateLoadBalancerInput struct {
	Name           string
	Type           string // "" means application, as in AWS
	Scheme         string
	Subnets        []string
	SubnetMappings []SubnetMapping
	SecurityGroups []string
	IPAddressType  string
	Tags           cloud.Tags
}

// CreateLoadBalancer creates a network or gateway load balancer in
// provisioning state with one requester-managed interface per zone; the
// load-balancer controller makes it active (LoadBalancerActive). A repeated
// call with the same name and settings returns the existing load balancer.
func (cp *ControlPlane) CreateLoadBalancer(ctx context.Context, c *Call, in CreateLoadBalancerInput) (*cloud.LoadBalancer, error) {
	if err := validElbName("Load balancer", in.Name); err != nil {
		return nil, err
	}
	switch in.Type {
	case LBTypeNetwork, LBTypeGateway:
	case "", "application":
		return nil, elbValidation("privlink models Network and Gateway Load Balancers only; specify Type 'network' or 'gateway' (Application Load Balancers are not supported)")
	default:
		return nil, elbValidation("1 validation error detected: Value '%s' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [application, network, gateway]", in.Type)
	}
	scheme := in.Scheme
	switch {
	case in.Type == LBTypeGateway && scheme != "":
		return nil, cloud.Errorf("InvalidConfigurationRequest", "A scheme cannot be specified for load balancers of type 'gateway'")
	case in.Type == LBTypeGateway:
	case scheme == "":
		scheme = "internet-facing"
	case scheme != "internet-facing" && scheme != "internal":
		return nil, elbValidation("1 validation error detected: Value '%s' at 'scheme' failed to satisfy constraint: Member must satisfy enum value set: [internet-facing, internal]", scheme)
	}
	switch in.IPAddressType {
	case "", "ipv4":
	case "dualstack", "dualstack-without-public-ipv4":
		return nil, cloud.Errorf("InvalidConfigurationRequest", "privlink models IPv4 load balancers only; IP address type '%s' is not supported", in.IPAddressType)
	default:
		return nil, elbValidation("1 validation error detected: Value '%s' at 'ipAddressType' failed to satisfy constraint: Member must satisfy enum value set: [ipv4, dualstack, dualstack-without-public-ipv4]", in.IPAddressType)
	}
	if len(in.Subnets) > 0 && len(in.SubnetMappings) > 0 {
		return nil, elbValidation("You can specify subnets or subnet mappings, but not both")
	}
	mappings := in.SubnetMappings
	for _, s := range in.Subnets {
		mappings = append(mappings, SubnetMapping{SubnetID: s})
	}
	if len(mappings) == 0 {
		return nil, elbValidation("At least one subnet must be specified")
	}
	for _, m := range mappings {
		switch {
		case m.SubnetID == "":
			return nil, elbMissing("subnetMappings.member.subnetId")
		case m.AllocationID != "":
			return nil, cloud.Errorf("InvalidConfigurationRequest", "privlink does not model Elastic IP addresses; AllocationId '%s' cannot be used", m.AllocationID)
		case m.IPv6Address != "":
			return nil, cloud.Errorf("InvalidConfigurationRequest", "privlink models IPv4 load balancers only; IPv6Address cannot be specified")
		case m.PrivateIPv4Address != "" && scheme != "internal":
			return nil, cloud.Errorf("InvalidConfigurationRequest", "Private IPv4 addresses can only be specified for internal load balancers")
		}
	}
	if in.Type == LBTypeGateway && len(in.SecurityGroups) > 0 {
		return nil, cloud.Errorf("InvalidConfigurationRequest", "Security groups are not supported for load balancers with type 'gateway'")
	}
	if err := validElbTags(in.Tags); err != nil {
		return nil, err
	}
	if _, err := cp.region(c); err != nil {
		return nil, err
	}
	short := "net"
	ifType := cloud.InterfaceTypeNLB
	if in.Type == LBTypeGateway {
		short, ifType = "gwy", cloud.InterfaceTypeGWLB
	}
	if err := cp.authorize(ctx, c, elbARN(c, "loadbalancer/"+short+"/"+in.Name+"/*")); err != nil {
		return nil, err
	}
	var lb *cloud.LoadBalancer
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		region, err := cp.region(c)
		if err != nil {
			return err
		}
		var subnets []*cloud.Subnet
		zones := map[string]bool{}
		for _, m := range mappings {
			s := getOwned[cloud.Subnet](tx, c, cloud.KindSubnet, m.SubnetID)
			if s == nil {
				return cloud.Errorf("SubnetNotFound", "The subnet ID '%s' is not valid", m.SubnetID)
			}
			if len(subnets) > 0 && s.VpcID != subnets[0].VpcID {
				return cloud.Errorf("InvalidConfigurationRequest", "All subnets must belong to the same VPC: '%s' and '%s' are in different VPCs", subnets[0].ID, s.ID)
			}
			if zones[s.AvailabilityZone] {
				return cloud.Errorf("InvalidConfigurationRequest", "A load balancer cannot be attached to multiple subnets in the same Availability Zone")
			}
			zones[s.AvailabilityZone] = true
			subnets = append(subnets, s)
		}
		vpcID := subnets[0].VpcID
		groups := uniqueSorted(in.SecurityGroups)
		for _, g := range groups {
			sg := getOwned[cloud.SecurityGroup](tx, c, cloud.KindSecurityGroup, g)
			if sg == nil {
				return cloud.Errorf("InvalidSecurityGroup", "Security group '%s' does not exist", g)
			}
			if sg.VpcID != vpcID {
				return cloud.Errorf("InvalidSecurityGroup", "Security group '%s' does not belong to VPC '%s'", g, vpcID)
			}
		}
		if existing := lbByName(tx, c, in.Name); existing != nil {
			if sameLoadBalancer(existing, in.Type, scheme, subnets, groups) && len(in.Tags) == 0 {
				lb = existing
				return nil
			}
			return cloud.Errorf("DuplicateLoadBalancerName", "A load balancer with the same name '%s' exists, but with different settings", in.Name)
		}
		if n := len(listOwned[cloud.LoadBalancer](tx, c, cloud.KindLoadBalancer, func(lb *cloud.LoadBalancer) bool { return lb.Type == in.Type })); n >= lbQuota[in.Type] {
			return cloud.Errorf("TooManyLoadBalancers", "You've reached the limit on the number of load balancers of type '%s' for your account in this Region (%d)", in.Type, lbQuota[in.Type])
		}
		token := cloud.RandomToken(16)
		id := short + "/" + in.Name + "/" + token
		arn := elbARN(c, "loadbalancer/"+id)
		lb = &cloud.LoadBalancer{
			Meta:          cp.newMeta(c, id, in.Tags),
			ARN:           arn,
			Name:          in.Name,
			Type:          in.Type,
			Scheme:        scheme,
			VpcID:         vpcID,
			State:         LBStateProvisioning,
			IPAddressType: "ipv4",
			Attributes:    defaultLBAttributes(in.Type, scheme),
		}
		if len(groups) > 0 {
			lb.SecurityGroupIDs = groups
		}
		if in.Type == LBTypeNetwork {
			lb.DNSName = in.Name + "-" + token + ".elb." + c.Region + ".amazonaws.com"
			lb.CanonicalHostedZn = nlbHostedZones[c.Region]
		}
		for i, s := range subnets {
			eni, err := cp.allocateInterface(tx, c, s, InterfaceSpec{
				PrivateIP:        mappings[i].PrivateIPv4Address,
				InterfaceType:    ifType,
				Description:      "ELB " + id,
				SecurityGroupIDs: groups,
				RequesterManaged: true,
				RequesterID:      "amazon-elb",
				OwnerResource:    arn,
			})
			if err != nil {
				return err
			}
			az, _ := region.AZ(s.AvailabilityZone)
			lb.AZs = append(lb.AZs, cloud.LoadBalancerAZ{
				ZoneName: s.AvailabilityZone, ZoneID: az.ID, SubnetID: s.ID,
				NetworkInterfaceID: eni.ID, PrivateIPv4Address: eni.PrivateIPAddress,
			})
		}
		sort.Slice(lb.AZs, func(i, j int) bool { return lb.AZs[i].ZoneName < lb.AZs[j].ZoneName })
		tx.Put(cloud.KindLoadBalancer, id, lb)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return lb, nil
}

func uniqueSorted(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func sameLoadBalancer(lb *cloud.LoadBalancer, typ, scheme string, subnets []*cloud.Subnet, groups []string) bool {
	if lb.Type != typ || lb.Scheme != scheme || len(lb.AZs) != len(subnets) || strings.Join(lb.SecurityGroupIDs, ",") != strings.Join(groups, ",") {
		return false
	}
	have := map[string]bool{}
	for _, az := range lb.AZs {
		have[az.SubnetID] = true
	}
	for _, s := range subnets {
		if !have[s.ID] {
			return false
		}
	}
	return true
}

func lbByName(tx *store.Tx, c *Call, name string) *cloud.LoadBalancer {
	found := listOwned[cloud.LoadBalancer](tx, c, cloud.KindLoadBalancer, func(lb *cloud.LoadBalancer) bool { return lb.Name == name })
	if len(found) == 0 {
		return nil
	}
	return found[0]
}

// lbByARN returns the caller's load balancer with arn, LoadBalancerNotFound,
// or a ValidationError for a malformed ARN.
func lbByARN(tx *store.Tx, c *Call, arn string) (*cloud.LoadBalancer, error) {
	if arn == "" {
		return nil, elbMissing("loadBalancerArn")
	}
	id, ok, err := elbResourceID(c, arn, "loadbalancer", "load balancer")
	if err != nil {
		return nil, err
	}
	if ok {
		if lb := getOwned[cloud.LoadBalancer](tx, c, cloud.KindLoadBalancer, id); lb != nil {
			return lb, nil
		}
	}
	return nil, cloud.Errorf("LoadBalancerNotFound", "Load balancer '%s' not found", arn)
}

// LoadBalancerByARN finds any account's load balancer by ARN (for endpoint
// services and controllers, which check ownership themselves).
func LoadBalancerByARN(tx *store.Tx, arn string) (*cloud.LoadBalancer, bool) {
	a, err := cloud.ParseARN(arn)
	if err != nil || a.Service != "elasticloadbalancing" || !strings.HasPrefix(a.Resource, "loadbalancer/") {
		return nil, false
	}
	lb, ok := store.Get[cloud.LoadBalancer](tx, cloud.KindLoadBalancer, strings.TrimPrefix(a.Resource, "loadbalancer/"))
	if !ok || lb.ARN != arn {
		return nil, false
	}
	return lb, true
}

// LoadBalancerActive moves a provisioning load balancer to active; the
// load-balancer controller calls it once the data plane has realized it.
func (cp *ControlPlane) LoadBalancerActive(ctx context.Context, arn string) error {
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		lb, ok := LoadBalancerByARN(tx, arn)
		if !ok {
			return cloud.Errorf("LoadBalancerNotFound", "Load balancer '%s' not found", arn)
		}
		if lb.State == LBStateActive {
			return nil
		}
		n := store.Clone(lb)
		n.State, n.StateReason = LBStateActive, ""
		tx.Put(cloud.KindLoadBalancer, n.ID, n)
		return nil
	})
}

// DescribeLoadBalancersInput is DescribeLoadBalancers' parameters.
type DescribeLoadBalancersInput struct {
	ARNs     []string
	Names    []string
	Marker   string
	PageSize *int
}

// DescribeLoadBalancers lists the caller's load balancers, or the ones named.
func (cp *ControlPlane) DescribeLoadBalancers(ctx context.Context, c *Call, in DescribeLoadBalancersInput) ([]*cloud.LoadBalancer, string, error) {
	if len(in.ARNs) > 0 && len(in.Names) > 0 {
		return nil, "", elbValidation("Load balancer names and load balancer ARNs cannot be specified at the same time")
	}
	if len(in.ARNs) > 20 || len(in.Names) > 20 {
		return nil, "", elbValidation("You can specify at most 20 load balancers")
	}
	if err := cp.authorize(ctx, c, "*"); err != nil {
		return nil, "", err
	}
	var items []*cloud.LoadBalancer
	err := cp.db.View(func(tx *store.Tx) error {
		want := map[string]bool{}
		for _, arn := range in.ARNs {
			lb, err := lbByARN(tx, c, arn)
			if err != nil {
				return err
			}
			want[lb.ID] = true
		}
		for _, name := range in.Names {
			lb := lbByName(tx, c, name)
			if lb == nil {
				return cloud.Errorf("LoadBalancerNotFound", "Load balancers '[%s]' not found", name)
			}
			want[lb.ID] = true
		}
		filter := len(in.ARNs) > 0 || len(in.Names) > 0
		items = listOwned[cloud.LoadBalancer](tx, c, cloud.KindLoadBalancer, func(lb *cloud.LoadBalancer) bool {
			return !filter || want[lb.ID]
		})
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return elbPage(items, func(lb *cloud.LoadBalancer) string { return lb.ID }, in.Marker, in.PageSize)
}

// DeleteLoadBalancer deletes a load balancer with its listeners and
// interfaces. As in AWS, deleting one that does not exist succeeds.
func (cp *ControlPlane) DeleteLoadBalancer(ctx context.Context, c *Call, arn string) error {
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		lb, err := lbByARN(tx, c, arn)
		if e, ok := cloud.AsError(err); ok && e.Code == "LoadBalancerNotFound" {
			return cp.authorize(ctx, c, arn)
		}
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, lb.ARN); err != nil {
			return err
		}
		if lb.Attributes["deletion_protection.enabled"] == "true" {
			return cloud.Errorf("OperationNotPermitted", "Load balancer '%s' cannot be deleted because deletion protection is enabled", lb.ARN)
		}
		if svc := endpointServiceUsing(tx, lb.ARN); svc != "" {
			return cloud.Errorf("ResourceInUse", "Load balancer '%s' cannot be deleted because it is currently associated with another service", lb.ARN)
		}
		var groups []string
		for _, l := range listenersOf(tx, lb.ARN) {
			tx.Delete(cloud.KindListener, l.ID)
			groups = append(groups, l.TargetGroupARN)
		}
		for _, tg := range uniqueSorted(groups) {
			syncAttachment(tx, tg)
		}
		tx.Each(cloud.KindNetworkInterface, func(id string, v any) bool {
			if v.(*cloud.NetworkInterface).OwnerResource == lb.ARN {
				tx.Delete(cloud.KindNetworkInterface, id)
			}
			return true
		})
		tx.Delete(cloud.KindLoadBalancer, lb.ID)
		return nil
	})
}

// endpointServiceUsing returns the ID of an endpoint service that uses the
// load balancer, or "".
func endpointServiceUsing(tx *store.Tx, arn string) string {
	if !tx.HasKind(cloud.KindVpcEndpointService) {
		return ""
	}
	found := ""
	tx.Each(cloud.KindVpcEndpointService, func(id string, v any) bool {
		svc, ok := v.(*cloud.VpcEndpointService)
		if !ok {
			return true
		}
		if contains1(svc.NetworkLoadBalancerARNs, arn) || contains1(svc.GatewayLoadBalancerARNs, arn) {
			found = id
			return false
		}
		return true
	})
	return found
}

// LoadBalancerAttribute is one key/value attribute.
type LoadBalancerAttribute struct{ Key, Value string }

// lbAttributeSpec validates one attribute's value; nil accepts any string.
type attrCheck func(v string) error

func boolAttr(key string) attrCheck {
	return func(v string) error {
		if v != "true" && v != "false" {
			return elbValidation("The value of attribute '%s' must be 'true' or 'false'", key)
		}
		return nil
	}
}

func enumAttr(key string, values ...string) attrCheck {
	return func(v string) error {
		if !contains1(values, v) {
			return elbValidation("The value of attribute '%s' must be one of: %s", key, strings.Join(values, ", "))
		}
		return nil
	}
}

func anyAttr(v string) error { return nil }

// lbAttributeChecks lists the attribute keys of each load balancer type.
func lbAttributeChecks(typ string) map[string]attrCheck {
	m := map[string]attrCheck{
		"deletion_protection.enabled":       boolAttr("deletion_protection.enabled"),
		"load_balancing.cross_zone.enabled": boolAttr("load_balancing.cross_zone.enabled"),
	}
	if typ == LBTypeNetwork {
		m["access_logs.s3.enabled"] = func(v string) error {
			if err := boolAttr("access_logs.s3.enabled")(v); err != nil {
				return err
			}
			if v == "true" {
				return cloud.Errorf("InvalidConfigurationRequest", "privlink cannot deliver access logs: there is no Amazon S3 in privlink")
			}
			return nil
		}
		m["access_logs.s3.bucket"] = anyAttr
		m["access_logs.s3.prefix"] = anyAttr
		m["dns_record.client_routing_policy"] = enumAttr("dns_record.client_routing_policy", "availability_zone_affinity", "partial_availability_zone_affinity", "any_availability_zone")
		m["zonal_shift.config.enabled"] = boolAttr("zonal_shift.config.enabled")
	}
	return m
}

func defaultLBAttributes(typ, scheme string) map[string]string {
	m := map[string]string{
		"deletion_protection.enabled":       "false",
		"load_balancing.cross_zone.enabled": "false",
	}
	if typ == LBTypeNetwork {
		m["access_logs.s3.enabled"] = "false"
		m["access_logs.s3.bucket"] = ""
		m["access_logs.s3.prefix"] = ""
		m["dns_record.client_routing_policy"] = "any_availability_zone"
		m["zonal_shift.config.enabled"] = "false"
	}
	return m
}

func sortedAttributes(m map[string]string) []LoadBalancerAttribute {
	out := make([]LoadBalancerAttribute, 0, len(m))
	for k, v := range m {
		out = append(out, LoadBalancerAttribute{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// DescribeLoadBalancerAttributes returns a load balancer's attributes.
func (cp *ControlPlane) DescribeLoadBalancerAttributes(ctx context.Context, c *Call, arn string) ([]LoadBalancerAttribute, error) {
	var out []LoadBalancerAttribute
	err := cp.db.View(func(tx *store.Tx) error {
		lb, err := lbByARN(tx, c, arn)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, lb.ARN); err != nil {
			return err
		}
		out = sortedAttributes(withDefaults(defaultLBAttributes(lb.Type, lb.Scheme), lb.Attributes))
		return nil
	})
	return out, err
}

func withDefaults(defaults, have map[string]string) map[string]string {
	for k, v := range have {
		defaults[k] = v
	}
	return defaults
}

// applyAttributes validates changes against checks and returns the new map.
func applyAttributes(checks map[string]attrCheck, have map[string]string, changes []LoadBalancerAttribute, what string) (map[string]string, error) {
	if len(changes) == 0 {
		return nil, elbMissing("attributes")
	}
	out := map[string]string{}
	for k, v := range have {
		out[k] = v
	}
	for _, ch := range changes {
		check, ok := checks[ch.Key]
		if !ok {
			return nil, elbValidation("%s attribute key '%s' is not recognized", what, ch.Key)
		}
		if err := check(ch.Value); err != nil {
			return nil, err
		}
		out[ch.Key] = ch.Value
	}
	return out, nil
}

// ModifyLoadBalancerAttributes changes attributes and returns all of them.
func (cp *ControlPlane) ModifyLoadBalancerAttributes(ctx context.Context, c *Call, arn string, changes []LoadBalancerAttribute) ([]LoadBalancerAttribute, error) {
	var out []LoadBalancerAttribute
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		lb, err := lbByARN(tx, c, arn)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, lb.ARN); err != nil {
			return err
		}
		attrs, err := applyAttributes(lbAttributeChecks(lb.Type), withDefaults(defaultLBAttributes(lb.Type, lb.Scheme), lb.Attributes), changes, "Load balancer")
		if err != nil {
			return err
		}
		n := store.Clone(lb)
		n.Attributes = attrs
		tx.Put(cloud.KindLoadBalancer, n.ID, n)
		out = sortedAttributes(attrs)
		return nil
	})
	return out, err
}
