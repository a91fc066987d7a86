package dataplane

import (
	"context"
	"maps"
	"slices"
	"sync"
)

// FakeRealizer is an in-memory Realizer for controller tests: it validates
// and records what was applied, and reports unchanged for an identical
// re-apply. It touches no kernel state.
type FakeRealizer struct {
	Prefix string // namespace name prefix; "" means DefaultPrefix

	mu       sync.Mutex
	vpcs     map[string]VPC
	applies  int
	internet *Internet
	// Err, if set, is returned by every call (to test error paths).
	Err error
}

var _ Realizer = (*FakeRealizer)(nil)

func (f *FakeRealizer) prefix() string {
	if f.Prefix == "" {
		return DefaultPrefix
	}
	return f.Prefix
}

// ApplyVPC records v.
func (f *FakeRealizer) ApplyVPC(_ context.Context, v VPC) (Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return Result{}, f.Err
	}
	if err := v.Validate(); err != nil {
		return Result{}, err
	}
	f.applies++
	if f.vpcs == nil {
		f.vpcs = map[string]VPC{}
	}
	var res Result
	old, ok := f.vpcs[v.ID]
	switch {
	case !ok:
		res.created("vpc %s", v.ID)
	case !vpcEqual(old, v):
		res.updated("vpc %s", v.ID)
	}
	f.vpcs[v.ID] = v
	return res, nil
}

// DeleteVPC forgets the VPC.
func (f *FakeRealizer) DeleteVPC(_ context.Context, vpcID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	delete(f.vpcs, vpcID)
	return nil
}

// Cleanup forgets every VPC not in keep.
func (f *FakeRealizer) Cleanup(_ context.Context, keep []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	for id := range f.vpcs {
		if !slices.Contains(keep, id) {
			delete(f.vpcs, id)
		}
	}
	return nil
}

// RouterNamespace names the VPC's router namespace.
func (f *FakeRealizer) RouterNamespace(vpcID string) string { return routerNSName(f.prefix(), vpcID) }

// InterfaceNamespace names an interface namespace.
func (f *FakeRealizer) InterfaceNamespace(eniID string) string { return ifaceNSName(f.prefix(), eniID) }

// ApplyInternet records in.
func (f *FakeRealizer) ApplyInternet(_ context.Context, in Internet) (Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return Result{}, f.Err
	}
	if err := in.Validate(); err != nil {
		return Result{}, err
	}
	var res Result
	switch {
	case f.internet == nil:
		res.created("internet")
	case !slices.Equal(f.internet.localPrefixes(), in.localPrefixes()):
		res.updated("internet")
	}
	f.internet = &in
	return res, nil
}

// DeleteInternet forgets the internet.
func (f *FakeRealizer) DeleteInternet(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err != nil {
		return f.Err
	}
	f.internet = nil
	return nil
}

// InternetNamespace names the fake internet's namespace.
func (f *FakeRealizer) InternetNamespace() string { return internetNSName(f.prefix()) }

// AppliedInternet returns the last applied internet.
func (f *FakeRealizer) AppliedInternet() (Internet, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.internet == nil {
		return Internet{}, false
	}
	return *f.internet, true
}

// Applied returns the last applied state of a VPC.
func (f *FakeRealizer) Applied(vpcID string) (VPC, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.vpcs[vpcID]
	return v, ok
}

// VPCIDs lists the realized VPCs, sorted.
func (f *FakeRealizer) VPCIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.vpcs))
}

// Applies counts successful ApplyVPC calls.
func (f *FakeRealizer) Applies() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applies
}

// vpcEqual compares two models by their realized form: the rendered
// ruleset, routes and interfaces.
func vpcEqual(a, b VPC) bool {
	if a.ID != b.ID || a.CIDR != b.CIDR || a.InternetGatewayID != b.InternetGatewayID || buildRuleset(a).String() != buildRuleset(b).String() {
		return false
	}
	return slices.EqualFunc(sortedBy(a.Interfaces, ifaceID), sortedBy(b.Interfaces, ifaceID), func(x, y Interface) bool {
		return x.ID == y.ID && x.SubnetID == y.SubnetID && x.IP == y.IP && x.Hostname == y.Hostname && x.Kind == y.Kind
	}) && slices.EqualFunc(sortedBy(a.Subnets, subnetID), sortedBy(b.Subnets, subnetID), func(x, y Subnet) bool {
		return x.ID == y.ID && x.CIDR == y.CIDR && slices.Equal(x.Routes, y.Routes)
	})
}

func ifaceID(i Interface) string { return i.ID }
func subnetID(s Subnet) string   { return s.ID }
