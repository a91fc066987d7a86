package cloud

import (
	"fmt"
	"hash/fnv"
	"net/netip"
)

// The region's "public" AWS service addresses live in 198.18.0.0/15, the
// project's stand-in for the internet: nothing is ever sent outside the
// machine. Each region owns a /20 of it, in the order of knownRegions:
//
//	+0.0/24 and +1.0/24   S3 (the com.amazonaws.<region>.s3 prefix list)
//	+2.0/24               DynamoDB (com.amazonaws.<region>.dynamodb)
//	+3.N                  the public endpoint of the N-th catalog service
const publicRange = "198.18.0.0/15"

// AWSService is an AWS service reachable through VPC endpoints.
type AWSService struct {
	// Short is the service's short name (sqs, ecr.api, s3).
	Short string
	// Gateway reports whether a Gateway endpoint exists (s3, dynamodb).
	Gateway bool
	// Interface reports whether an Interface endpoint exists.
	Interface bool
	// PolicySupported reports whether endpoint policies are supported.
	PolicySupported bool
}

// AWSServices is the region's service catalog, in a fixed order.
var awsServices = []AWSService{
	{Short: "s3", Gateway: true, Interface: true, PolicySupported: true},
	{Short: "dynamodb", Gateway: true, Interface: true, PolicySupported: true},
	{Short: "sqs", Interface: true, PolicySupported: true},
	{Short: "sns", Interface: true, PolicySupported: true},
	{Short: "sts", Interface: true, PolicySupported: true},
	{Short: "kms", Interface: true, PolicySupported: true},
	{Short: "secretsmanager", Interface: true, PolicySupported: true},
	{Short: "logs", Interface: true, PolicySupported: true},
	{Short: "monitoring", Interface: true, PolicySupported: true},
	{Short: "ecr.api", Interface: true, PolicySupported: true},
	{Short: "ecr.dkr", Interface: true, PolicySupported: true},
	{Short: "lambda", Interface: true, PolicySupported: true},
	{Short: "ssm", Interface: true, PolicySupported: true},
	{Short: "ec2", Interface: true, PolicySupported: true},
	{Short: "elasticloadbalancing", Interface: true, PolicySupported: true},
	{Short: "execute-api", Interface: true, PolicySupported: true},
}

// AWSServices returns the service catalog.
func AWSServices() []AWSService { return append([]AWSService(nil), awsServices...) }

// AWSServiceName is the endpoint service name of an AWS service in a region.
func AWSServiceName(region, short string) string { return "com.amazonaws." + region + "." + short }

// LookupAWSService finds a catalog service by its full service name.
func LookupAWSService(region, serviceName string) (AWSService, bool) {
	for _, s := range awsServices {
		if AWSServiceName(region, s.Short) == serviceName {
			return s, true
		}
	}
	return AWSService{}, false
}

func regionBlock(region string) (netip.Addr, error) {
	for i, r := range knownRegions {
		if r == region {
			base := netip.MustParsePrefix(publicRange).Addr().As4()
			third := int(base[2]) + i*16
			return netip.AddrFrom4([4]byte{base[0], base[1] + byte(third/256), byte(third % 256), 0}), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("cloud: unknown region %q", region)
}

func addOctet3(a netip.Addr, n int) netip.Addr {
	b := a.As4()
	v := int(b[1])<<8 | int(b[2])
	v += n
	return netip.AddrFrom4([4]byte{b[0], byte(v >> 8), byte(v), b[3]})
}

// ServicePrefixCIDRs returns the public CIDRs of a gateway service (s3,
// dynamodb) in a region: the entries of its AWS-managed prefix list.
func ServicePrefixCIDRs(region, short string) []netip.Prefix {
	base, err := regionBlock(region)
	if err != nil {
		return nil
	}
	switch short {
	case "s3":
		return []netip.Prefix{netip.PrefixFrom(base, 24), netip.PrefixFrom(addOctet3(base, 1), 24)}
	case "dynamodb":
		return []netip.Prefix{netip.PrefixFrom(addOctet3(base, 2), 24)}
	}
	return nil
}

// ServicePublicAddr is the address the region's public DNS gives the
// service's regional name (e.g. sqs.us-east-1.amazonaws.com).
func ServicePublicAddr(region, short string) (netip.Addr, bool) {
	base, err := regionBlock(region)
	if err != nil {
		return netip.Addr{}, false
	}
	for i, s := range awsServices {
		if s.Short == short {
			if cidrs := ServicePrefixCIDRs(region, short); len(cidrs) > 0 {
				return cidrs[0].Addr().Next(), true
			}
			b := addOctet3(base, 3).As4()
			b[3] = byte(10 + i)
			return netip.AddrFrom4(b), true
		}
	}
	return netip.Addr{}, false
}

// AWSPrefixListID is the stable ID of an AWS-managed prefix list, derived
// from its name so it is the same on every start (pl- and 8 hex digits, as
// AWS's own lists are shaped).
func AWSPrefixListID(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	return fmt.Sprintf("pl-%08x", h.Sum32())
}
