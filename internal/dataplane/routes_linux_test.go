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
	for _, r := range desiredRoutes(v, tables) {
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
