package dns

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"
)

// ErrInvalidServiceName is returned for an endpoint service name that is
// neither com.amazonaws.<region>.<service> nor
// com.amazonaws.vpce.<region>.vpce-svc-<id>.
var ErrInvalidServiceName = errors.New("dns: invalid endpoint service name")

// ErrInvalidName is returned for a DNS name that cannot be stored or served.
var ErrInvalidName = errors.New("dns: invalid name")

// Canonical returns name lowercased and fully qualified, the form every
// name is stored and compared in.
func Canonical(name string) string {
	return strings.ToLower(mdns.Fqdn(name))
}

// canonicalChecked is Canonical plus a syntax check of the labels.
func canonicalChecked(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidName)
	}
	c := Canonical(name)
	if _, ok := mdns.IsDomainName(c); !ok {
		return "", fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	return c, nil
}

// InstanceHostname is the private IP-based hostname AWS gives an instance:
// ip-10-0-1-5.ec2.internal in us-east-1 and
// ip-10-0-1-5.<region>.compute.internal elsewhere. It returns "" for an
// address that is not IPv4, since AWS only names IPv4 addresses this way.
func InstanceHostname(region string, ip netip.Addr) string {
	if !ip.Is4() {
		return ""
	}
	b := ip.As4()
	host := fmt.Sprintf("ip-%d-%d-%d-%d", b[0], b[1], b[2], b[3])
	if region == "us-east-1" {
		return host + ".ec2.internal"
	}
	return host + "." + region + ".compute.internal"
}

// InstanceResourceName is the resource-based hostname of an instance:
// i-0123456789abcdef0.ec2.internal in us-east-1 and
// i-0123456789abcdef0.<region>.compute.internal elsewhere.
func InstanceResourceName(region, instanceID string) string {
	if region == "us-east-1" {
		return instanceID + ".ec2.internal"
	}
	return instanceID + "." + region + ".compute.internal"
}

// ReverseName is the fully qualified reverse-lookup name of ip
// (5.1.0.10.in-addr.arpa. for 10.0.1.5), or "" for an invalid address.
func ReverseName(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	name, err := mdns.ReverseAddr(ip.Unmap().String())
	if err != nil {
		return ""
	}
	return name
}

// serviceName is a parsed endpoint service name.
type serviceName struct {
	region string
	// awsLabels holds, for an AWS service, the labels after the region
	// (["ecr", "dkr"] for com.amazonaws.us-east-1.ecr.dkr).
	awsLabels []string
	// customID is vpce-svc-… for a customer-owned endpoint service.
	customID string
}

func parseServiceName(name string) (serviceName, error) {
	labels := strings.Split(strings.ToLower(name), ".")
	if len(labels) < 4 || labels[0] != "com" || labels[1] != "amazonaws" {
		return serviceName{}, fmt.Errorf("%w: %q", ErrInvalidServiceName, name)
	}
	for _, l := range labels {
		if l == "" {
			return serviceName{}, fmt.Errorf("%w: empty label in %q", ErrInvalidServiceName, name)
		}
	}
	if labels[2] == "vpce" {
		if len(labels) != 5 || !strings.HasPrefix(labels[4], "vpce-svc-") || len(labels[4]) == len("vpce-svc-") {
			return serviceName{}, fmt.Errorf("%w: %q", ErrInvalidServiceName, name)
		}
		return serviceName{region: labels[3], customID: labels[4]}, nil
	}
	return serviceName{region: labels[2], awsLabels: labels[3:]}, nil
}

// serviceLabel is the part of the endpoint DNS names that names the
// service: the AWS service labels reversed (ecr.dkr → dkr.ecr) or the
// endpoint service ID.
func (s serviceName) serviceLabel() string {
	if s.customID != "" {
		return s.customID
	}
	rev := make([]string, len(s.awsLabels))
	for i, l := range s.awsLabels {
		rev[len(rev)-1-i] = l
	}
	return strings.Join(rev, ".")
}

func checkServiceRegion(svc serviceName, service, region string) error {
	if svc.region != strings.ToLower(region) {
		return fmt.Errorf("%w: %q is not in region %q", ErrInvalidServiceName, service, region)
	}
	return nil
}

// ServiceBaseDNSName is the endpoint service's base DNS name
// (BaseEndpointDnsNames): vpce-svc-0123456789abcdef0.us-east-1.vpce.amazonaws.com
// for a custom service, sqs.us-east-1.vpce.amazonaws.com for an AWS one.
func ServiceBaseDNSName(service, region string) (string, error) {
	svc, err := parseServiceName(service)
	if err != nil {
		return "", err
	}
	if err := checkServiceRegion(svc, service, region); err != nil {
		return "", err
	}
	return svc.serviceLabel() + "." + svc.region + ".vpce.amazonaws.com", nil
}

// EndpointRegionalName is an interface endpoint's regional DNS name:
// vpce-<id>-<suffix8>.<service>.<region>.vpce.amazonaws.com, where
// <service> is sqs for com.amazonaws.us-east-1.sqs, dkr.ecr for ….ecr.dkr
// and vpce-svc-<id> for a custom endpoint service.
func EndpointRegionalName(endpointID, suffix8, service, region string) (string, error) {
	base, err := ServiceBaseDNSName(service, region)
	if err != nil {
		return "", err
	}
	if err := checkEndpointParts(endpointID, suffix8); err != nil {
		return "", err
	}
	return strings.ToLower(endpointID + "-" + suffix8 + "." + base), nil
}

// EndpointZonalName is an interface endpoint's name in one Availability
// Zone: vpce-<id>-<suffix8>-<az>.<service>.<region>.vpce.amazonaws.com.
func EndpointZonalName(endpointID, suffix8, az, service, region string) (string, error) {
	base, err := ServiceBaseDNSName(service, region)
	if err != nil {
		return "", err
	}
	if err := checkEndpointParts(endpointID, suffix8); err != nil {
		return "", err
	}
	if !strings.HasPrefix(strings.ToLower(az), strings.ToLower(region)) || len(az) == len(region) {
		return "", fmt.Errorf("%w: zone %q is not in region %q", ErrInvalidName, az, region)
	}
	return strings.ToLower(endpointID + "-" + suffix8 + "-" + az + "." + base), nil
}

func checkEndpointParts(endpointID, suffix8 string) error {
	if !strings.HasPrefix(endpointID, "vpce-") || len(endpointID) == len("vpce-") {
		return fmt.Errorf("%w: endpoint ID %q", ErrInvalidName, endpointID)
	}
	if suffix8 == "" || strings.ContainsAny(suffix8, ".-") {
		return fmt.Errorf("%w: endpoint name suffix %q", ErrInvalidName, suffix8)
	}
	return nil
}

// isWildcardService reports whether an AWS service's private DNS name is a
// wildcard, because clients put a bucket, account or API ID in front of it
// (<bucket>.s3…, <account>.dkr.ecr…, <api-id>.execute-api…).
func isWildcardService(label string) bool {
	switch label {
	case "s3", "dkr.ecr", "execute-api":
		return true
	}
	return false
}

// ServicePrivateDNSNames lists the private DNS names an AWS service's
// interface endpoint answers in the consumer VPC when private DNS is
// enabled (the service's PrivateDnsNames), primary first:
// sqs.us-east-1.amazonaws.com, api.ecr.us-east-1.amazonaws.com,
// *.dkr.ecr.us-east-1.amazonaws.com, *.execute-api.us-east-1.amazonaws.com,
// and for s3 both *.s3.us-east-1.amazonaws.com and s3.us-east-1.amazonaws.com.
// Custom endpoint services have the private DNS name their provider
// verified; they yield ErrInvalidServiceName here.
func ServicePrivateDNSNames(service, region string) ([]string, error) {
	svc, err := parseServiceName(service)
	if err != nil {
		return nil, err
	}
	if err := checkServiceRegion(svc, service, region); err != nil {
		return nil, err
	}
	if svc.customID != "" {
		return nil, fmt.Errorf("%w: %q is a custom endpoint service; its private DNS name is set by its provider", ErrInvalidServiceName, service)
	}
	label := svc.serviceLabel()
	name := label + "." + svc.region + ".amazonaws.com"
	if !isWildcardService(label) {
		return []string{name}, nil
	}
	names := []string{"*." + name}
	if label == "s3" {
		names = append(names, name)
	}
	return names, nil
}

// ServicePrivateDNSName is the primary private DNS name of an AWS service
// (its PrivateDnsName), the first of ServicePrivateDNSNames.
func ServicePrivateDNSName(service, region string) (string, error) {
	names, err := ServicePrivateDNSNames(service, region)
	if err != nil {
		return "", err
	}
	return names[0], nil
}

// EndpointNamesAreWildcard reports whether AWS lists the service's
// endpoint regional and zonal DNS names with a leading "*." because
// clients prefix them (bucket.vpce-….s3.us-east-1.vpce.amazonaws.com, as
// for Amazon S3). The caller then publishes "*."+name as the DnsEntry and
// adds both the name and its wildcard to the view.
func EndpointNamesAreWildcard(service string) bool {
	svc, err := parseServiceName(service)
	if err != nil || svc.customID != "" {
		return false
	}
	return svc.serviceLabel() == "s3"
}
