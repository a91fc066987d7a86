package controllers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
	"github.com/privlink/privlink/internal/dns"
	"github.com/privlink/privlink/internal/store"
)

func zoneCall(account string) *controlplane.Call {
	c := root(account)
	c.Action = "route53:Test"
	return c
}

// putService stores an endpoint service with a private DNS name pending
// verification (the load balancer plumbing is beside the point here).
func putService(t *testing.T, db *store.DB, id, name string) {
	t.Helper()
	check(t, db.Update(context.Background(), func(tx *store.Tx) error {
		tx.Put(cloud.KindVpcEndpointService, id, &cloud.VpcEndpointService{
			Meta:        cloud.Meta{ID: id, OwnerID: providerAcct, Region: region, CreatedAt: time.Now().UTC()},
			ServiceName: controlplane.CustomServiceName(region, id), ServiceType: cloud.EndpointInterface, ServiceState: "Available",
			PrivateDNSName:       name,
			PrivateDNSNameConfig: &cloud.PrivateDNSNameConfiguration{State: controlplane.DNSStatePending, Type: "TXT", Name: "_check", Value: "vpce:right"},
		})
		return nil
	}))
}

func publishTXT(t *testing.T, cp *controlplane.ControlPlane, zoneID, name, value string) {
	t.Helper()
	_, err := cp.ChangeResourceRecordSets(context.Background(), zoneCall(providerAcct), zoneID, "", []controlplane.RecordChange{{
		Action: controlplane.ActionUpsert, TTLSet: true, Set: cloud.RecordSet{Name: name, Type: "TXT", TTL: 60, Values: []string{`"` + value + `"`}},
	}})
	check(t, err)
}

func TestVerification(t *testing.T) {
	cases := []struct {
		name    string
		record  string        // TXT value published at _check.api.example.com ("" for none)
		elapsed time.Duration // since the controller first looked
		state   string
		requeue bool
	}{
		{"right record", "vpce:right", 0, controlplane.DNSStateVerified, false},
		{"no record yet", "", 0, controlplane.DNSStatePending, true},
		{"wrong record yet", "vpce:wrong", 30 * time.Second, controlplane.DNSStatePending, true},
		{"no record after the window", "", time.Minute, controlplane.DNSStateFailed, false},
		{"wrong record after the window", "vpce:wrong", 2 * time.Minute, controlplane.DNSStateFailed, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cp, db := newCP(t)
			auth := dns.NewAuthority()
			(&HostedZoneAuthority{Authority: auth, Build: controlplane.BuildHostedZone}).Start(db)
			z, _, err := cp.CreateHostedZone(ctx, zoneCall(providerAcct), controlplane.CreateHostedZoneInput{Name: "example.com", CallerReference: "z"})
			check(t, err)
			putService(t, db, "vpce-svc-0123456789abcdef0", "api.example.com")
			if tc.record != "" {
				publishTXT(t, cp, z.ID, "_check.api.example.com", tc.record)
			}
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			r := &Verification{DB: db, CP: cp, Lookup: auth.LookupTXT, Now: func() time.Time { return now }}
			first, err := r.Reconcile(ctx, "vpce-svc-0123456789abcdef0")
			check(t, err)
			res := first
			if tc.elapsed > 0 {
				now = now.Add(tc.elapsed)
				res, err = r.Reconcile(ctx, "vpce-svc-0123456789abcdef0")
				check(t, err)
			}
			svc := get[cloud.VpcEndpointService](t, db, cloud.KindVpcEndpointService, "vpce-svc-0123456789abcdef0")
			if svc.PrivateDNSNameConfig.State != tc.state || (res.RequeueAfter > 0) != tc.requeue {
				t.Fatalf("state %s requeue %s, want %s requeue %v", svc.PrivateDNSNameConfig.State, res.RequeueAfter, tc.state, tc.requeue)
			}
		})
	}
}

// TestVerificationNewWindow: a failed name made pending again gets a new
// window, and the record published meanwhile verifies it.
func TestVerificationNewWindow(t *testing.T) {
	ctx := context.Background()
	cp, db := newCP(t)
	auth := dns.NewAuthority()
	(&HostedZoneAuthority{Authority: auth, Build: controlplane.BuildHostedZone}).Start(db)
	z, _, err := cp.CreateHostedZone(ctx, zoneCall(providerAcct), controlplane.CreateHostedZoneInput{Name: "example.com", CallerReference: "z"})
	check(t, err)
	id := "vpce-svc-0123456789abcdef1"
	putService(t, db, id, "api.example.com")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &Verification{DB: db, CP: cp, Lookup: auth.LookupTXT, Window: time.Second, Now: func() time.Time { return now }}
	must(r.Reconcile(ctx, id))(t)
	now = now.Add(time.Second)
	must(r.Reconcile(ctx, id))(t)
	if s := get[cloud.VpcEndpointService](t, db, cloud.KindVpcEndpointService, id).PrivateDNSNameConfig.State; s != controlplane.DNSStateFailed {
		t.Fatalf("state = %s", s)
	}
	must(r.Reconcile(ctx, id))(t) // observes failed: forgets the window
	check(t, cp.StartVpcEndpointServicePrivateDnsVerification(ctx, root(providerAcct), id))
	now = now.Add(time.Hour)
	if res := must(r.Reconcile(ctx, id))(t); res.RequeueAfter != 100*time.Millisecond {
		t.Fatalf("new window: %+v", res)
	}
	publishTXT(t, cp, z.ID, "_check.api.example.com", "vpce:right")
	must(r.Reconcile(ctx, id))(t)
	if s := get[cloud.VpcEndpointService](t, db, cloud.KindVpcEndpointService, id).PrivateDNSNameConfig.State; s != controlplane.DNSStateVerified {
		t.Fatalf("state = %s", s)
	}
}

func TestHostedZoneAuthority(t *testing.T) {
	ctx := context.Background()
	cp, db := newCP(t)
	// A zone stored before Start is loaded.
	early, _, err := cp.CreateHostedZone(ctx, zoneCall(providerAcct), controlplane.CreateHostedZoneInput{Name: "example.com", CallerReference: "a"})
	check(t, err)
	publishTXT(t, cp, early.ID, "owner.example.com", "provider")
	auth := dns.NewAuthority()
	(&HostedZoneAuthority{Authority: auth, Build: controlplane.BuildHostedZone}).Start(db)
	lookup := func(name string) string {
		v, err := auth.LookupTXT(ctx, name)
		if err != nil {
			return err.Error()
		}
		return v[0]
	}
	if got := lookup("owner.example.com"); got != "provider" {
		t.Fatalf("loaded zone: %s", got)
	}
	// A later zone of the same name in another account is not served while
	// the older one exists.
	late, _, err := cp.CreateHostedZone(ctx, zoneCall(consumerAcct), controlplane.CreateHostedZoneInput{Name: "example.com", CallerReference: "b"})
	check(t, err)
	_, err = cp.ChangeResourceRecordSets(ctx, zoneCall(consumerAcct), late.ID, "", []controlplane.RecordChange{{
		Action: controlplane.ActionCreate, TTLSet: true, Set: cloud.RecordSet{Name: "owner.example.com", Type: "TXT", TTL: 60, Values: []string{`"consumer"`}},
	}})
	check(t, err)
	if got := lookup("owner.example.com"); got != "provider" {
		t.Fatalf("older zone must win: %s", got)
	}
	// Changes are served when the call returns.
	publishTXT(t, cp, early.ID, "owner.example.com", "provider-2")
	if got := lookup("owner.example.com"); got != "provider-2" {
		t.Fatalf("after upsert: %s", got)
	}
	// Deleting the served zone hands the name to the other.
	_, err = cp.ChangeResourceRecordSets(ctx, zoneCall(providerAcct), early.ID, "", []controlplane.RecordChange{{
		Action: controlplane.ActionDelete, TTLSet: true, Set: cloud.RecordSet{Name: "owner.example.com", Type: "TXT", TTL: 60, Values: []string{`"provider-2"`}},
	}})
	check(t, err)
	_, err = cp.DeleteHostedZone(ctx, zoneCall(providerAcct), early.ID)
	check(t, err)
	if got := lookup("owner.example.com"); got != "consumer" {
		t.Fatalf("after delete: %s", got)
	}
	_, err = cp.ChangeResourceRecordSets(ctx, zoneCall(consumerAcct), late.ID, "", []controlplane.RecordChange{{
		Action: controlplane.ActionDelete, TTLSet: true, Set: cloud.RecordSet{Name: "owner.example.com", Type: "TXT", TTL: 60, Values: []string{`"consumer"`}},
	}})
	check(t, err)
	_, err = cp.DeleteHostedZone(ctx, zoneCall(consumerAcct), late.ID)
	check(t, err)
	if _, err := auth.LookupTXT(ctx, "owner.example.com"); !errors.Is(err, dns.ErrNXDomain) {
		t.Fatalf("after both deletes: %v", err)
	}
}
