package controlplane

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/dns"
)

func zoneCall(account, op string) *Call { return rootCall(account, "route53:"+op) }

func mustZone(t *testing.T, cp *ControlPlane, account, name, ref string) *cloud.HostedZone {
	t.Helper()
	z, _, err := cp.CreateHostedZone(context.Background(), zoneCall(account, "CreateHostedZone"), CreateHostedZoneInput{Name: name, CallerReference: ref})
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestCreateHostedZoneRules(t *testing.T) {
	cp := newTestCP(t)
	ctx := context.Background()
	first := mustZone(t, cp, "111111111111", "Example.COM", "ref-1")
	if first.Name != "example.com." || !strings.HasPrefix(first.ID, "Z") || len(first.ID) < 14 || len(first.ID) > 22 || strings.ToUpper(first.ID) != first.ID ||
		len(first.RecordSets) != 2 || len(first.NameServers) != 4 {
		t.Fatalf("zone = %+v", first)
	}
	cases := []struct {
		name    string
		account string
		in      CreateHostedZoneInput
		code    string
	}{
		{"caller reference reused", "111111111111", CreateHostedZoneInput{Name: "example.org", CallerReference: "ref-1"}, "HostedZoneAlreadyExists"},
		{"same reference, other account", "222222222222", CreateHostedZoneInput{Name: "example.org", CallerReference: "ref-1"}, ""},
		{"same name twice is allowed", "111111111111", CreateHostedZoneInput{Name: "example.com", CallerReference: "ref-2"}, ""},
		{"private zone", "111111111111", CreateHostedZoneInput{Name: "corp.internal", CallerReference: "ref-3", VPC: true}, "InvalidInput"},
		{"private flag", "111111111111", CreateHostedZoneInput{Name: "corp.internal", CallerReference: "ref-4", PrivateZone: true}, "InvalidInput"},
		{"no reference", "111111111111", CreateHostedZoneInput{Name: "example.net"}, "InvalidInput"},
		{"bad name", "111111111111", CreateHostedZoneInput{Name: "exa mple..com", CallerReference: "ref-5"}, "InvalidDomainName"},
		{"top-level domain", "111111111111", CreateHostedZoneInput{Name: "com", CallerReference: "ref-6"}, "InvalidDomainName"},
		{"delegation set", "111111111111", CreateHostedZoneInput{Name: "example.net", CallerReference: "ref-7", DelegationSetID: "N1"}, "NoSuchDelegationSet"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := cp.CreateHostedZone(ctx, zoneCall(tc.account, "CreateHostedZone"), tc.in)
			if errCode(err) != tc.code {
				t.Fatalf("err = %v, want code %q", err, tc.code)
			}
		})
	}
	// Accounts are walls.
	if _, err := cp.GetHostedZone(ctx, zoneCall("222222222222", "GetHostedZone"), first.ID); errCode(err) != "NoSuchHostedZone" {
		t.Fatalf("other account's get: %v", err)
	}
	if _, err := cp.DeleteHostedZone(ctx, zoneCall("222222222222", "DeleteHostedZone"), first.ID); errCode(err) != "NoSuchHostedZone" {
		t.Fatalf("other account's delete: %v", err)
	}
	zones, next, err := cp.ListHostedZones(ctx, zoneCall("111111111111", "ListHostedZones"), "", 1)
	if err != nil || len(zones) != 1 || next == "" {
		t.Fatalf("page 1 = %d zones, next %q, %v", len(zones), next, err)
	}
	rest, next2, err := cp.ListHostedZones(ctx, zoneCall("111111111111", "ListHostedZones"), next, 1)
	if err != nil || len(rest) != 1 || next2 != "" || rest[0].ID == zones[0].ID {
		t.Fatalf("page 2 = %+v, next %q, %v", rest, next2, err)
	}
}

func txtChange(action, name string, values ...string) RecordChange {
	return RecordChange{Action: action, TTLSet: true, Set: cloud.RecordSet{Name: name, Type: "TXT", TTL: 300, Values: values}}
}

func rrChange(action, typ, name string, values ...string) RecordChange {
	return RecordChange{Action: action, TTLSet: true, Set: cloud.RecordSet{Name: name, Type: typ, TTL: 60, Values: values}}
}

func TestChangeResourceRecordSets(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		setup   []RecordChange
		changes []RecordChange
		code    string
		message string
		// want lists the zone's non-apex record sets afterwards ("name type").
		want string
	}{
		{name: "create", changes: []RecordChange{txtChange("CREATE", "_v.api.example.com", `"vpce:abc"`)}, want: "_v.api.example.com. TXT"},
		{name: "create twice", setup: []RecordChange{txtChange("CREATE", "a.example.com", `"x"`)}, changes: []RecordChange{txtChange("CREATE", "a.example.com", `"y"`)},
			code: "InvalidChangeBatch", message: "Tried to create resource record set [name='a.example.com.', type='TXT'] but it already exists", want: "a.example.com. TXT"},
		{name: "delete missing", changes: []RecordChange{txtChange("DELETE", "a.example.com", `"x"`)},
			code: "InvalidChangeBatch", message: "Tried to delete resource record set [name='a.example.com.', type='TXT'] but it was not found"},
		{name: "delete with other values", setup: []RecordChange{txtChange("CREATE", "a.example.com", `"x"`)}, changes: []RecordChange{txtChange("DELETE", "a.example.com", `"y"`)},
			code: "InvalidChangeBatch", message: "but the values provided do not match the current values", want: "a.example.com. TXT"},
		{name: "delete then create in one batch", setup: []RecordChange{txtChange("CREATE", "a.example.com", `"x"`)},
			changes: []RecordChange{txtChange("DELETE", "a.example.com", `"x"`), txtChange("CREATE", "a.example.com", `"y"`)}, want: "a.example.com. TXT"},
		{name: "upsert", setup: []RecordChange{txtChange("CREATE", "a.example.com", `"x"`)}, changes: []RecordChange{txtChange("UPSERT", "a.example.com", `"y"`, `"z"`)}, want: "a.example.com. TXT"},
		{name: "batch is atomic", changes: []RecordChange{txtChange("CREATE", "a.example.com", `"x"`), txtChange("DELETE", "b.example.com", `"x"`)},
			code: "InvalidChangeBatch", message: "but it was not found"},
		{name: "outside the zone", changes: []RecordChange{txtChange("CREATE", "a.example.org", `"x"`)},
			code: "InvalidChangeBatch", message: "RRSet with DNS name a.example.org. is not permitted in zone example.com."},
		{name: "CNAME beside TXT", setup: []RecordChange{txtChange("CREATE", "a.example.com", `"x"`)}, changes: []RecordChange{rrChange("CREATE", "CNAME", "a.example.com", "b.example.com")},
			code: "InvalidChangeBatch", message: "conflicts with other records", want: "a.example.com. TXT"},
		{name: "CNAME at apex", changes: []RecordChange{rrChange("CREATE", "CNAME", "example.com", "b.example.net")},
			code: "InvalidChangeBatch", message: "is not permitted at apex"},
		{name: "two CNAME values", changes: []RecordChange{rrChange("CREATE", "CNAME", "w.example.com", "a.example.net", "b.example.net")},
			code: "InvalidChangeBatch", message: "contains more than one resource record"},
		{name: "unquoted TXT", changes: []RecordChange{txtChange("CREATE", "a.example.com", `vpce:abc`)}, code: "InvalidChangeBatch", message: "InvalidCharacterString"},
		{name: "bad A", changes: []RecordChange{rrChange("CREATE", "A", "a.example.com", "10.0.0.300")}, code: "InvalidChangeBatch", message: "ARRDATAIllegalIPv4Address"},
		{name: "duplicate value", changes: []RecordChange{rrChange("CREATE", "A", "a.example.com", "10.0.0.1", "10.0.0.1")}, code: "InvalidChangeBatch", message: "Duplicate Resource Record"},
		{name: "A and CNAME and wildcard", changes: []RecordChange{rrChange("CREATE", "A", "a.example.com", "198.18.0.1"), rrChange("CREATE", "CNAME", "*.w.example.com", "a.example.com")},
			want: "a.example.com. A,*.w.example.com. CNAME"},
		{name: "NS is managed", changes: []RecordChange{rrChange("UPSERT", "NS", "example.com", "ns1.example.net")}, code: "InvalidInput"},
		{name: "MX unsupported", changes: []RecordChange{rrChange("CREATE", "MX", "example.com", "10 mx.example.com")}, code: "InvalidInput"},
		{name: "bad action", changes: []RecordChange{{Action: "REPLACE", TTLSet: true, Set: cloud.RecordSet{Name: "a.example.com", Type: "TXT", Values: []string{`"x"`}}}}, code: "InvalidInput"},
		{name: "no TTL", changes: []RecordChange{{Action: "CREATE", Set: cloud.RecordSet{Name: "a.example.com", Type: "TXT", Values: []string{`"x"`}}}}, code: "InvalidInput", message: "Expected exactly one of"},
		{name: "alias", changes: []RecordChange{{Action: "CREATE", TTLSet: true, Unsupported: "AliasTarget", Set: cloud.RecordSet{Name: "a.example.com", Type: "A", Values: []string{"198.18.0.1"}}}}, code: "InvalidInput"},
		{name: "empty batch", code: "InvalidInput"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cp := newTestCP(t)
			z := mustZone(t, cp, "111111111111", "example.com", "ref")
			call := zoneCall("111111111111", "ChangeResourceRecordSets")
			if len(tc.setup) > 0 {
				if _, err := cp.ChangeResourceRecordSets(ctx, call, z.ID, "", tc.setup); err != nil {
					t.Fatal(err)
				}
			}
			ch, err := cp.ChangeResourceRecordSets(ctx, call, "/hostedzone/"+z.ID, "comment", tc.changes)
			if errCode(err) != tc.code || (tc.message != "" && !strings.Contains(err.Error(), tc.message)) {
				t.Fatalf("err = %v, want code %q with %q", err, tc.code, tc.message)
			}
			if err == nil {
				if got, gerr := cp.GetChange(ctx, zoneCall("111111111111", "GetChange"), "/change/"+ch.ID); gerr != nil || got.Comment != "comment" {
					t.Fatalf("GetChange = %+v, %v", got, gerr)
				}
			}
			page, err := cp.ListResourceRecordSets(ctx, zoneCall("111111111111", "ListResourceRecordSets"), z.ID, "", "", 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, rs := range page.Sets {
				if rs.Name != "example.com." {
					got = append(got, rs.Name+" "+rs.Type)
				}
			}
			if strings.Join(got, ",") != tc.want {
				t.Fatalf("record sets = %q, want %q", strings.Join(got, ","), tc.want)
			}
		})
	}
}

func TestDeleteHostedZoneAndServe(t *testing.T) {
	ctx := context.Background()
	cp := newTestCP(t)
	z := mustZone(t, cp, "111111111111", "example.com", "ref")
	call := zoneCall("111111111111", "ChangeResourceRecordSets")
	if _, err := cp.ChangeResourceRecordSets(ctx, call, z.ID, "", []RecordChange{
		txtChange("CREATE", "_v.api.example.com", `"vpce:abc" "def"`),
		rrChange("CREATE", "CNAME", "alias.example.com", "_v.api.example.com"),
	}); err != nil {
		t.Fatal(err)
	}
	stored, err := cp.GetHostedZone(ctx, zoneCall("111111111111", "GetHostedZone"), z.ID)
	if err != nil || stored.Serial != 2 || !strings.Contains(soaRecordSet(stored).Values[0], " 2 7200 ") {
		t.Fatalf("zone after change = %+v, %v", stored, err)
	}
	// The stored zone, served by an Authority, answers like public DNS.
	zone, err := BuildHostedZone(stored)
	if err != nil {
		t.Fatal(err)
	}
	a := dns.NewAuthority()
	if err := a.PutZone(zone); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"_v.api.example.com", "alias.example.com"} {
		if got, err := a.LookupTXT(ctx, name); err != nil || len(got) != 1 || got[0] != "vpce:abcdef" {
			t.Fatalf("LookupTXT(%s) = %v, %v", name, got, err)
		}
	}
	if _, err := a.LookupTXT(ctx, "missing.example.com"); !errors.Is(err, dns.ErrNXDomain) {
		t.Fatalf("missing name: %v", err)
	}

	if _, err := cp.DeleteHostedZone(ctx, zoneCall("111111111111", "DeleteHostedZone"), z.ID); errCode(err) != "HostedZoneNotEmpty" {
		t.Fatalf("delete non-empty: %v", err)
	}
	if _, err := cp.ChangeResourceRecordSets(ctx, call, z.ID, "", []RecordChange{
		txtChange("DELETE", "_v.api.example.com", `"vpce:abc" "def"`),
		rrChange("DELETE", "CNAME", "alias.example.com", "_v.api.example.com."),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.DeleteHostedZone(ctx, zoneCall("111111111111", "DeleteHostedZone"), z.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.GetHostedZone(ctx, zoneCall("111111111111", "GetHostedZone"), z.ID); errCode(err) != "NoSuchHostedZone" {
		t.Fatalf("get after delete: %v", err)
	}
}

func TestParseTXT(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		ok   bool
	}{
		{`"a"`, []string{"a"}, true},
		{`"a b" "c"`, []string{"a b", "c"}, true},
		{`"say \"hi\""`, []string{`say "hi"`}, true},
		{`""`, []string{""}, true},
		{`abc`, nil, false},
		{`"abc`, nil, false},
		{`"a""b"`, nil, false},
		{``, nil, false},
	}
	for _, tc := range cases {
		got, msg := parseTXT(tc.in)
		if (msg == "") != tc.ok || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("parseTXT(%q) = %q, %q", tc.in, got, msg)
		}
	}
}
