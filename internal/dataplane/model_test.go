package dataplane

import (
	"context"
	"errors"
	"go/build"
	"net/netip"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*VPC)
		wantErr string
	}{
		{"valid", func(*VPC) {}, ""},
		{"empty id", func(v *VPC) { v.ID = "" }, "empty vpc id"},
		{"ipv6 cidr", func(v *VPC) { v.CIDR = pfx("fd00::/56") }, "not an IPv4 prefix"},
		{"subnet outside vpc", func(v *VPC) { v.Subnets[0].CIDR = pfx("10.1.0.0/24") }, "inside"},
		{"subnet too small", func(v *VPC) { v.Subnets[0].CIDR = pfx("10.0.2.0/29") }, "/28 or larger"},
		{"duplicate subnet", func(v *VPC) { v.Subnets[1].ID = v.Subnets[0].ID }, "duplicate"},
		{"unknown acl", func(v *VPC) { v.Subnets[0].ACLID = "acl-x" }, "unknown network acl"},
		{"unknown subnet", func(v *VPC) { v.Interfaces[0].SubnetID = "subnet-x" }, "unknown subnet"},
		{"reserved router address", func(v *VPC) { v.Interfaces[0].IP = netip.MustParseAddr("10.0.2.1") }, "not usable"},
		{"reserved dns address", func(v *VPC) { v.Interfaces[0].IP = netip.MustParseAddr("10.0.2.2") }, "not usable"},
		{"broadcast address", func(v *VPC) { v.Interfaces[0].IP = netip.MustParseAddr("10.0.2.255") }, "not usable"},
		{"address in other subnet", func(v *VPC) { v.Interfaces[0].IP = netip.MustParseAddr("10.0.1.20") }, "not usable"},
		{"duplicate address", func(v *VPC) { v.Interfaces[0].IP = v.Interfaces[1].IP; v.Interfaces[0].SubnetID = "subnet-a" }, "share address"},
		{"unknown group", func(v *VPC) { v.Interfaces[0].SecurityGroupIDs = []string{"sg-x"} }, "unknown security group"},
		{"unknown referenced group", func(v *VPC) { v.SecurityGroups[0].Ingress[0].GroupIDs = []string{"sg-x"} }, "unknown group"},
		{"unknown prefix list", func(v *VPC) { v.SecurityGroups[1].Egress[1].PrefixListIDs = []string{"pl-x"} }, "unknown prefix list"},
		{"bad protocol", func(v *VPC) { v.SecurityGroups[0].Ingress[0].Protocol = "sctp" }, "invalid protocol"},
		{"inverted ports", func(v *VPC) { v.SecurityGroups[0].Ingress[0].FromPort = 500 }, "invalid port range"},
		{"icmp type too big", func(v *VPC) { v.SecurityGroups[0].Ingress[1].FromPort = 256 }, "invalid icmp"},
		{"acl rule number", func(v *VPC) { v.NetworkACLs[0].Entries[0].RuleNumber = 0 }, "rule number"},
		{"route to unknown prefix list", func(v *VPC) {
			v.Subnets[0].Routes = []Route{{PrefixListID: "pl-x", Target: TargetBlackhole}}
		}, "unknown prefix list"},
		{"route without destination", func(v *VPC) { v.Subnets[0].Routes = []Route{{Target: TargetBlackhole}} }, "without destination"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := builderVPC()
			tc.mutate(&v)
			err := v.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalidModel) {
				t.Fatalf("error = %v, want ErrInvalidModel containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestAddresses(t *testing.T) {
	tests := []struct {
		name string
		got  netip.Addr
		want string
	}{
		{"subnet router", SubnetRouter(pfx("10.0.1.0/24")), "10.0.1.1"},
		{"unmasked subnet router", SubnetRouter(pfx("10.0.1.77/24")), "10.0.1.1"},
		{"vpc resolver", VPCResolver(pfx("172.31.0.0/16")), "172.31.0.2"},
		{"link-local resolver", LinkLocalResolver(), "169.254.169.253"},
		{"last address", lastAddr(pfx("10.0.1.0/28")), "10.0.1.15"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got.String() != tc.want {
				t.Errorf("got %v, want %s", tc.got, tc.want)
			}
		})
	}
}

// maxLinkName is IFNAMSIZ minus the terminating NUL.
const maxLinkName = 15

func TestNames(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"router namespace", routerNSName("pl", "vpc-0abc"), "pl-r-0abc"},
		{"interface namespace", ifaceNSName("t1", "eni-12345"), "t1-n-12345"},
		{"id without dash", idSuffix("plain"), "plain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
	t.Run("link names fit IFNAMSIZ and differ", func(t *testing.T) {
		a, b := routerLinkName("eni-0123456789abcdef0"), routerLinkName("eni-0123456789abcdef1")
		if len(a) > maxLinkName || len(b) > maxLinkName || a == b {
			t.Errorf("link names %q %q", a, b)
		}
	})
	t.Run("subnet tables stable and distinct", func(t *testing.T) {
		subnets := []Subnet{{ID: "subnet-1"}, {ID: "subnet-2"}, {ID: "subnet-3"}}
		t1, t2 := subnetTables(subnets), subnetTables([]Subnet{subnets[2], subnets[0], subnets[1]})
		seen := map[int]bool{}
		for id, n := range t1 {
			if t2[id] != n || seen[n] || n < 1000 {
				t.Errorf("table of %s: %d / %d", id, n, t2[id])
			}
			seen[n] = true
		}
	})
	t.Run("config validation", func(t *testing.T) {
		for _, p := range []string{"", "has space", "a/b", strings.Repeat("x", 17)} {
			if err := (Config{Prefix: p, StateDir: "/tmp"}).Validate(); err == nil {
				t.Errorf("prefix %q accepted", p)
			}
		}
		if err := DefaultConfig().Validate(); err != nil {
			t.Errorf("default config: %v", err)
		}
	})
}

func TestFakeRealizer(t *testing.T) {
	ctx := context.Background()
	f := &FakeRealizer{Prefix: "x"}
	v := builderVPC()
	steps := []struct {
		name        string
		run         func() (Result, error)
		wantChanged bool
		wantErr     bool
	}{
		{"first apply creates", func() (Result, error) { return f.ApplyVPC(ctx, v) }, true, false},
		{"same apply unchanged", func() (Result, error) { return f.ApplyVPC(ctx, builderVPC()) }, false, false},
		{"changed rule updates", func() (Result, error) {
			w := builderVPC()
			w.SecurityGroups[0].Ingress = nil
			return f.ApplyVPC(ctx, w)
		}, true, false},
		{"invalid rejected", func() (Result, error) { w := builderVPC(); w.CIDR = netip.Prefix{}; return f.ApplyVPC(ctx, w) }, false, true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			res, err := s.run()
			if (err != nil) != s.wantErr || res.Changed() != s.wantChanged {
				t.Fatalf("res %+v err %v", res, err)
			}
		})
	}
	t.Run("names and cleanup", func(t *testing.T) {
		if f.RouterNamespace("vpc-1") != "x-r-1" || f.InterfaceNamespace("eni-2") != "x-n-2" || f.Applies() != 3 {
			t.Fatalf("names %s %s applies %d", f.RouterNamespace("vpc-1"), f.InterfaceNamespace("eni-2"), f.Applies())
		}
		if err := f.Cleanup(ctx, nil); err != nil || len(f.VPCIDs()) != 0 {
			t.Fatalf("cleanup left %v (%v)", f.VPCIDs(), err)
		}
	})
}

// TestLayering keeps the package free of other privlink packages: the
// controllers translate the store into this package's own model.
func TestLayering(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imports := range [][]string{pkg.Imports, pkg.TestImports} {
		for _, imp := range imports {
			if strings.HasPrefix(imp, "github.com/privlink/privlink/") {
				t.Errorf("dataplane imports %s", imp)
			}
		}
	}
}
