package proxy

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func tgt(id, az string, st TargetState) Target {
	return Target{ID: id, Addr: netip.MustParseAddrPort("10.0.0.1:80"), AZ: az, State: st}
}

// picked returns the set of target IDs Pick chooses over many flow hashes.
func picked(b *Balancer, az string) map[string]int {
	got := map[string]int{}
	for h := range uint64(2000) {
		if t, ok := b.Pick(az, h); ok {
			got[t.ID]++
		}
	}
	return got
}

func keys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestBalancerPick(t *testing.T) {
	const a, b = "us-east-1a", "us-east-1b"
	tests := []struct {
		name      string
		targets   []Target
		crossZone bool
		clientAZ  string
		want      []string // IDs that receive flows; nil means no target
	}{
		{
			name:     "same zone healthy only",
			targets:  []Target{tgt("a1", a, StateHealthy), tgt("a2", a, StateHealthy), tgt("b1", b, StateHealthy)},
			clientAZ: a,
			want:     []string{"a1", "a2"},
		},
		{
			name:      "cross-zone uses every zone",
			targets:   []Target{tgt("a1", a, StateHealthy), tgt("b1", b, StateHealthy), tgt("b2", b, StateUnhealthy)},
			crossZone: true,
			clientAZ:  a,
			want:      []string{"a1", "b1"},
		},
		{
			name:     "unhealthy and initial skipped while one is healthy",
			targets:  []Target{tgt("a1", a, StateUnhealthy), tgt("a2", a, StateInitial), tgt("a3", a, StateHealthy)},
			clientAZ: a,
			want:     []string{"a3"},
		},
		{
			name:     "fail open within the zone when none is healthy",
			targets:  []Target{tgt("a1", a, StateUnhealthy), tgt("a2", a, StateInitial), tgt("a3", a, StateDraining), tgt("b1", b, StateHealthy)},
			clientAZ: a,
			want:     []string{"a1", "a2"},
		},
		{
			name:      "cross-zone fail open spans zones",
			targets:   []Target{tgt("a1", a, StateUnhealthy), tgt("b1", b, StateUnhealthy), tgt("b2", b, StateUnused)},
			crossZone: true,
			clientAZ:  a,
			want:      []string{"a1", "b1"},
		},
		{
			name:     "health checks disabled counts as healthy",
			targets:  []Target{tgt("a1", a, StateUnavailable), tgt("a2", a, StateUnhealthy)},
			clientAZ: a,
			want:     []string{"a1"},
		},
		{
			name:     "draining only means no target",
			targets:  []Target{tgt("a1", a, StateDraining), tgt("a2", a, StateUnused)},
			clientAZ: a,
		},
		{
			name:     "zone without targets and no cross-zone",
			targets:  []Target{tgt("b1", b, StateHealthy)},
			clientAZ: a,
		},
		{
			name:     "empty client zone considers all zones",
			targets:  []Target{tgt("a1", a, StateHealthy), tgt("b1", b, StateHealthy)},
			clientAZ: "",
			want:     []string{"a1", "b1"},
		},
		{name: "no targets", clientAZ: a},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bal := NewBalancer(tt.crossZone)
			bal.SetTargets(tt.targets)
			got := keys(picked(bal, tt.clientAZ))
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Fatalf("targets picked (-want +got):\n%s", d)
			}
			var cands []string
			for _, c := range bal.Candidates(tt.clientAZ) {
				cands = append(cands, c.ID)
			}
			slices.Sort(cands)
			if d := cmp.Diff(tt.want, cands); d != "" {
				t.Fatalf("Candidates differ from what Pick uses (-want +got):\n%s", d)
			}
		})
	}
}

func TestBalancerSpreadAndDeterminism(t *testing.T) {
	bal := NewBalancer(true)
	var ts []Target
	for _, id := range []string{"t1", "t2", "t3", "t4"} {
		ts = append(ts, tgt(id, "az", StateHealthy))
	}
	bal.SetTargets(ts)
	src := netip.MustParseAddr("10.1.0.7")
	dst := netip.MustParseAddrPort("10.2.0.9:443")
	counts := map[string]int{}
	const flows = 40000
	for port := range uint16(flows) {
		h := FlowHash(netip.AddrPortFrom(src, 1024+port), dst, 6)
		first, _ := bal.Pick("az", h)
		again, _ := bal.Pick("az", h)
		if first.ID != again.ID {
			t.Fatalf("flow hash %x picked %s then %s", h, first.ID, again.ID)
		}
		counts[first.ID]++
	}
	for id, n := range counts {
		if share := float64(n) / flows; share < 0.22 || share > 0.28 {
			t.Errorf("target %s got %.3f of flows, want about 0.25 (counts %v)", id, share, counts)
		}
	}
}

func TestBalancerSetState(t *testing.T) {
	bal := NewBalancer(false)
	bal.SetTargets([]Target{tgt("a1", "a", StateHealthy), tgt("a2", "a", StateHealthy)})
	if !bal.SetState("a1", StateDraining) {
		t.Fatal("SetState(a1) = false for a registered target")
	}
	if bal.SetState("zz", StateHealthy) {
		t.Fatal("SetState(zz) = true for an unknown target")
	}
	if d := cmp.Diff([]string{"a2"}, keys(picked(bal, "a"))); d != "" {
		t.Fatalf("after draining a1 (-want +got):\n%s", d)
	}
}

func TestBalancerPickDoesNotAllocate(t *testing.T) {
	bal := NewBalancer(false)
	bal.SetTargets([]Target{tgt("a1", "us-east-1a", StateHealthy), tgt("b1", "us-east-1b", StateHealthy)})
	src, dst := netip.MustParseAddrPort("10.0.0.1:1234"), netip.MustParseAddrPort("10.0.0.2:80")
	allocs := testing.AllocsPerRun(1000, func() {
		if _, ok := bal.Pick("us-east-1a", FlowHash(src, dst, 6)); !ok {
			t.Fatal("no target")
		}
	})
	if allocs != 0 {
		t.Fatalf("Pick allocates %.1f times per call, want 0", allocs)
	}
}

func BenchmarkBalancerPick(b *testing.B) {
	bal := NewBalancer(true)
	bal.SetTargets([]Target{tgt("a1", "a", StateHealthy), tgt("b1", "b", StateHealthy), tgt("c1", "c", StateHealthy)})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var h uint64
		for pb.Next() {
			h++
			bal.Pick("a", h)
		}
	})
}
