package proxy

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"sync/atomic"
)

// Target is one registered target of a target group as the balancer sees it.
type Target struct {
	ID    string
	Addr  netip.AddrPort
	AZ    string
	State TargetState
}

// healthy reports whether the target may take new flows normally. Health
// checks disabled (unavailable) counts as healthy, as in ELB.
func (t *Target) healthy() bool { return t.State == StateHealthy || t.State == StateUnavailable }

// routable reports whether the target may take new flows when failing open.
// Draining and unused targets never take new flows.
func (t *Target) routable() bool {
	return t.State != StateDraining && t.State != StateUnused
}

// pool is a precomputed candidate list: healthy indexes, and the fail-open
// fallback of every routable index.
type pool struct {
	healthy  []int
	routable []int
}

func (p *pool) pick(targets []Target, flowHash uint64) (Target, bool) {
	c := p.healthy
	if len(c) == 0 {
		c = p.routable
	}
	if len(c) == 0 {
		return Target{}, false
	}
	// Multiply-shift maps the mixed hash onto [0,n) evenly without a division.
	hi, _ := bits.Mul64(mix64(flowHash), uint64(len(c)))
	return targets[c[hi]], true
}

type targetSet struct {
	targets []Target
	all     pool
	byAZ    map[string]*pool
}

func newTargetSet(ts []Target) *targetSet {
	s := &targetSet{targets: append([]Target(nil), ts...), byAZ: make(map[string]*pool)}
	for i := range s.targets {
		t := &s.targets[i]
		zp := s.byAZ[t.AZ]
		if zp == nil {
			zp = &pool{}
			s.byAZ[t.AZ] = zp
		}
		if t.healthy() {
			s.all.healthy = append(s.all.healthy, i)
			zp.healthy = append(zp.healthy, i)
		}
		if t.routable() {
			s.all.routable = append(s.all.routable, i)
			zp.routable = append(zp.routable, i)
		}
	}
	return s
}

// Balancer chooses a target for each new flow of one listener's target group.
// Pick is lock-free and allocation-free; updates replace the whole target set
// atomically, so a Pick sees either the old or the new set, never a mix.
type Balancer struct {
	set       atomic.Pointer[targetSet]
	crossZone atomic.Bool
}

// NewBalancer returns a Balancer with no targets.
func NewBalancer(crossZone bool) *Balancer {
	b := &Balancer{}
	b.crossZone.Store(crossZone)
	b.set.Store(newTargetSet(nil))
	return b
}

// SetCrossZone turns cross-zone load balancing on or off for new flows.
func (b *Balancer) SetCrossZone(on bool) { b.crossZone.Store(on) }

// SetTargets replaces the registered targets.
func (b *Balancer) SetTargets(ts []Target) { b.set.Store(newTargetSet(ts)) }

// Targets returns a copy of the registered targets.
func (b *Balancer) Targets() []Target {
	return append([]Target(nil), b.set.Load().targets...)
}

// SetState records a health state for the target with the given ID; it
// reports false when no such target is registered.
func (b *Balancer) SetState(id string, st TargetState) bool {
	for {
		old := b.set.Load()
		ts := append([]Target(nil), old.targets...)
		found := false
		for i := range ts {
			if ts[i].ID == id {
				ts[i].State, found = st, true
			}
		}
		if !found {
			return false
		}
		if b.set.CompareAndSwap(old, newTargetSet(ts)) {
			return true
		}
	}
}

// Pick returns the target for a new flow arriving at the load balancer node
// in clientAZ. Without cross-zone balancing only that zone's targets are
// considered (an empty clientAZ means every zone); with it, every zone's. Among
// the considered targets the healthy ones are used; if none is healthy the
// balancer fails open to all of them except draining and unused ones, as NLB
// does. The same flowHash always yields the same target for the same set.
func (b *Balancer) Pick(clientAZ string, flowHash uint64) (Target, bool) {
	s := b.set.Load()
	p := s.poolFor(clientAZ, b.crossZone.Load())
	if p == nil {
		return Target{}, false
	}
	return p.pick(s.targets, flowHash)
}

// Candidates returns the targets Pick chooses among for a new flow in
// clientAZ: the healthy ones considered, or, failing open, every routable
// one. A data path that spreads flows itself (the kernel's) uses it.
func (b *Balancer) Candidates(clientAZ string) []Target {
	s := b.set.Load()
	p := s.poolFor(clientAZ, b.crossZone.Load())
	if p == nil {
		return nil
	}
	c := p.healthy
	if len(c) == 0 {
		c = p.routable
	}
	out := make([]Target, 0, len(c))
	for _, i := range c {
		out = append(out, s.targets[i])
	}
	return out
}

// poolFor returns the pool of the zone (every zone with cross-zone on or an
// empty zone), nil when the zone has no targets.
func (s *targetSet) poolFor(clientAZ string, crossZone bool) *pool {
	if clientAZ == "" || crossZone {
		return &s.all
	}
	return s.byAZ[clientAZ]
}

// FlowHash hashes a flow's 5-tuple (FNV-1a over the addresses, ports and
// protocol number) without allocating.
func FlowHash(src, dst netip.AddrPort, proto uint8) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	var buf [16 + 16 + 2 + 2 + 1]byte
	a, d := src.Addr().As16(), dst.Addr().As16()
	copy(buf[0:16], a[:])
	copy(buf[16:32], d[:])
	binary.BigEndian.PutUint16(buf[32:], src.Port())
	binary.BigEndian.PutUint16(buf[34:], dst.Port())
	buf[36] = proto
	for _, c := range buf {
		h ^= uint64(c)
		h *= prime
	}
	return h
}

// mix64 is the splitmix64 finaliser; it spreads hashes whose entropy sits in
// low bits across the whole word before the range reduction.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
