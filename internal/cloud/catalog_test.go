package cloud

import (
	"net/netip"
	"testing"
)

func TestServiceAddressesStayInThePublicRange(t *testing.T) {
	public := netip.MustParsePrefix(publicRange)
	seen := map[netip.Addr]string{}
	for _, region := range knownRegions {
		for _, s := range awsServices {
			a, ok := ServicePublicAddr(region, s.Short)
			if !ok || !public.Contains(a) {
				t.Fatalf("%s %s: address %v outside %s", region, s.Short, a, public)
			}
			if prev, dup := seen[a]; dup {
				t.Fatalf("%s %s shares %v with %s", region, s.Short, a, prev)
			}
			seen[a] = region + "/" + s.Short
		}
		for _, p := range append(ServicePrefixCIDRs(region, "s3"), ServicePrefixCIDRs(region, "dynamodb")...) {
			if !public.Contains(p.Addr()) || p.Bits() != 24 {
				t.Fatalf("%s: prefix %v outside %s", region, p, public)
			}
		}
	}
	if got := ServicePrefixCIDRs("us-east-1", "s3"); got[0].String() != "198.18.0.0/24" {
		t.Fatalf("us-east-1 s3 = %v", got)
	}
	if AWSPrefixListID("com.amazonaws.us-east-1.s3") != AWSPrefixListID("com.amazonaws.us-east-1.s3") {
		t.Fatal("prefix list IDs must be stable")
	}
}

func TestRegionShortCode(t *testing.T) {
	for in, want := range map[string]string{"us-east-1": "use1", "ap-southeast-2": "apse2", "eu-central-1": "euc1", "ap-northeast-1": "apne1"} {
		if got := RegionShortCode(in); got != want {
			t.Errorf("RegionShortCode(%s) = %s, want %s", in, got, want)
		}
	}
}
