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
	// IDs derive from the list's name, so they are the same on every start
	// and differ between lists.
	if got := AWSPrefixListID("com.amazonaws.us-east-1.s3"); got != "pl-56ff8671" {
		t.Fatalf("s3 prefix list ID = %s, want the stable pl-56ff8671", got)
	}
	if AWSPrefixListID("com.amazonaws.us-east-1.s3") == AWSPrefixListID("com.amazonaws.us-east-1.dynamodb") {
		t.Fatal("s3 and dynamodb prefix lists share an ID")
	}
}

func TestRegionShortCode(t *testing.T) {
	for in, want := range map[string]string{"us-east-1": "use1", "ap-southeast-2": "apse2", "eu-central-1": "euc1", "ap-northeast-1": "apne1"} {
		if got := RegionShortCode(in); got != want {
			t.Errorf("RegionShortCode(%s) = %s, want %s", in, got, want)
		}
	}
}
