package cloud

import (
	"fmt"
	"strings"
)

// ARN is a parsed Amazon Resource Name.
type ARN struct {
	Partition, Service, Region, Account, Resource string
}

func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.Account + ":" + a.Resource
}

// ParseARN splits an ARN into its six parts.
func ParseARN(s string) (ARN, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] == "" {
		return ARN{}, fmt.Errorf("cloud: malformed ARN %q", s)
	}
	return ARN{Partition: parts[1], Service: parts[2], Region: parts[3], Account: parts[4], Resource: parts[5]}, nil
}

// AccountRootARN is the ARN of an account's root principal.
func AccountRootARN(account string) string { return "arn:aws:iam::" + account + ":root" }

// EC2ARN is the ARN of an EC2 resource, e.g. kind "vpc", "subnet", "vpc-endpoint".
func EC2ARN(region, account, kind, id string) string {
	return "arn:aws:ec2:" + region + ":" + account + ":" + kind + "/" + id
}

// IsAccountID reports whether s is a 12-digit account ID.
func IsAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
