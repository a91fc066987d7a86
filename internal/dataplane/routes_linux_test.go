package dataplane

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

func TestDesiredRoutes(t *testing.T) {
	v := builderVPC()
	v.Subnets[1].Routes = []Route{
		{Destination: pfx("0.0.0.0/0"), Target: TargetInternetGateway, TargetID: "igw-1"},
		{PrefixListID: "pl-s3", Target: TargetGatewayEndpoint, TargetID: "vpce-1"},
		{Destination: pfx("10.50.0.0/16"), Target: TargetInterface, TargetID: "eni-web"},
		{Destination: pfx("10.0.0.0/16"), Target: TargetLocal},
	}
	tables := subnetTables(v.Subnets)
	ta := tables["subnet-a"]
	got := map[string]bool{}
	for _, r := range desiredRoutes(v, tables, uplink{}) {
		got[r.String()] = true
	}
	web := routerLinkName("eni-web")
	want := []desiredRoute{
		{Table: unix.RT_TABLE_MAIN, Dst: pfx("10.0.2.10/32"), Type: unix.RTN_UNICAST, Link: web},
		{Table: unix.RT_TABLE_MAIN, Dst: pfx("10.0.0.0/16"), Type: unix.RTN_UNREACHABLE},
		{Table: ta, Dst: pfx("10.0.0.0/16"), Type: unix.RTN_THROW},
		{Table: ta, Dst: pfx("0.0.0.0/0"), Type: unix.RTN_BLACKHOLE},
		{Table: ta, Dst: pfx("198.18.0.0/24"), Type: unix.RTN_BLACKHOLE},
		{Table: ta, Dst: pfx("198.18.1.0/24"), Type: unix.RTN_BLACKHOLE},
		{Table: ta, Dst: pfx("10.50.0.0/16"), Type: unix.RTN_UNICAST, Link: web, Gw: netip.MustParseAddr("10.0.2.10")},
		{Table: tables["subnet-b"], Dst: pfx("0.0.0.0/0"), Type: unix.RTN_UNREACHABLE},
	}
	for _, w := range want {
		t.Run(w.String(), func(t *testing.T) {
			if !got[w.String()] {
				t.Errorf("missing; have %v", got)
			}
		})
	}
	t.Run("igw default replaces unreachable default", func(t *testing.T) {
		if got[(desiredRoute{Table: ta, Dst: pfx("0.0.0.0/0"), Type: unix.RTN_UNREACHABLE}).String()] {
			t.Error("both an unreachable and an igw default route")
		}
	})
}

// With an uplink, routes to the attached gateway and to gateway endpoints
// go through it; a route to a detached gateway stays a blackhole.
func TestDesiredRoutesUplink(t *testing.T) {
	v := builderVPC()
	v.InternetGatewayID = "igw-1"
	v.Subnets[1].Routes = []Route{
		{Destination: pfx("0.0.0.0/0"), Target: TargetInternetGateway, TargetID: "igw-1"},
		{PrefixListID: "pl-s3", Target: TargetGatewayEndpoint, TargetID: "vpce-1"},
	}
	v.Subnets[0].Routes = []Route{{Destination: pfx("0.0.0.0/0"), Target: TargetInternetGateway, TargetID: "igw-old"}}
	tables := subnetTables(v.Subnets)
	ta, tb := tables["subnet-a"], tables["subnet-b"]
	gw := netip.MustParseAddr("169.254.0.1")
	got := map[string]bool{}
	for _, r := range desiredRoutes(v, tables, uplink{Link: uplinkLink, Gw: gw}) {
		got[r.String()] = true
	}
	for _, w := range []desiredRoute{
		{Table: ta, Dst: pfx("0.0.0.0/0"), Type: unix.RTN_UNICAST, Link: uplinkLink, Gw: gw},
		{Table: ta, Dst: pfx("198.18.0.0/24"), Type: unix.RTN_UNICAST, Link: uplinkLink, Gw: gw},
		{Table: ta, Dst: pfx("198.18.1.0/24"), Type: unix.RTN_UNICAST, Link: uplinkLink, Gw: gw},
		{Table: tb, Dst: pfx("0.0.0.0/0"), Type: unix.RTN_BLACKHOLE},
	} {
		t.Run(w.String(), func(t *testing.T) {
			if !got[w.String()] {
				t.Errorf("missing; have %v", got)
			}
		})
	}
}
