package dataplane

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Traffic control redirects of the fabric. This kernel's traffic control
// has u32 and mirred (no flower, matchall or skbedit), which is all the
// fabric needs.

// portRedirect sends what a consumer router routes to an endpoint
// interface on one forwarded port over a fabric link instead.
type portRedirect struct {
	proto byte
	port  uint16
	to    int // the fabric link's interface index
}

// Priorities of the redirect filters on an endpoint interface's veth: a
// new set goes in at the other priority before the old one is deleted, so
// a change never leaves a port unredirected.
const (
	redirectPrioA = 10
	redirectPrioB = 20
)

// ensureClsact adds the clsact qdisc that carries a link's ingress and
// egress filters.
func ensureClsact(h nsHandles, nsName string, link netlink.Link) error {
	q := &netlink.Clsact{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: link.Attrs().Index, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}}
	if err := h.nl.QdiscAdd(q); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("dataplane: clsact on %s in %s: %w", link.Attrs().Name, nsName, err)
	}
	return nil
}

// ensureIngressRedirect makes everything that arrives on link arrive on to
// instead, as if received there.
func ensureIngressRedirect(h nsHandles, nsName string, link, to netlink.Link) error {
	if err := ensureClsact(h, nsName, link); err != nil {
		return err
	}
	parent := uint32(netlink.HANDLE_MIN_INGRESS)
	have, err := h.nl.FilterList(link, parent)
	if err != nil {
		return fmt.Errorf("dataplane: filters of %s in %s: %w", link.Attrs().Name, nsName, err)
	}
	for _, f := range have {
		if redirectsTo(f, to.Attrs().Index, netlink.TCA_INGRESS_REDIR) {
			return nil
		}
	}
	for _, f := range have {
		if err := h.nl.FilterDel(f); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("dataplane: delete filter of %s in %s: %w", link.Attrs().Name, nsName, err)
		}
	}
	f := &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: link.Attrs().Index, Parent: parent, Priority: redirectPrioA, Protocol: unix.ETH_P_ALL},
		Sel:         &netlink.TcU32Sel{Flags: netlink.TC_U32_TERMINAL, Keys: []netlink.TcU32Key{{Mask: 0, Val: 0, Off: 0}}},
		Actions:     []netlink.Action{mirred(to.Attrs().Index, netlink.TCA_INGRESS_REDIR)},
	}
	if err := h.nl.FilterAdd(f); err != nil {
		return fmt.Errorf("dataplane: redirect %s to %s in %s: %w", link.Attrs().Name, to.Attrs().Name, nsName, err)
	}
	return nil
}

func mirred(ifindex int, how netlink.MirredAct) *netlink.MirredAction {
	a := netlink.NewMirredAction(ifindex)
	a.MirredAction = how
	return a
}

// redirectsTo reports whether a filter's action is a mirred redirect of
// the given kind to the interface.
func redirectsTo(f netlink.Filter, ifindex int, how netlink.MirredAct) bool {
	u, ok := f.(*netlink.U32)
	if !ok {
		return false
	}
	for _, a := range u.Actions {
		if m, ok := a.(*netlink.MirredAction); ok && m.Ifindex == ifindex && m.MirredAction == how {
			return true
		}
	}
	return false
}

// syncPortRedirects makes the egress filters of an endpoint interface's
// router-side veth redirect exactly the given ports of addr: IPv4 without
// options (what the stack sends), the protocol, the destination address
// and port. No redirects removes them all.
func syncPortRedirects(rc nsHandles, rcNS string, eniLink netlink.Link, addr netip.Addr, want []portRedirect) error {
	if len(want) > 0 {
		if err := ensureClsact(rc, rcNS, eniLink); err != nil {
			return err
		}
	}
	parent := uint32(netlink.HANDLE_MIN_EGRESS)
	have, err := rc.nl.FilterList(eniLink, parent)
	if err != nil {
		if len(want) == 0 {
			return nil // no clsact, nothing to remove
		}
		return fmt.Errorf("dataplane: filters of %s in %s: %w", eniLink.Attrs().Name, rcNS, err)
	}
	slices.SortFunc(want, func(a, b portRedirect) int { return cmp.Or(cmp.Compare(a.port, b.port), cmp.Compare(a.proto, b.proto)) })
	wantFilters := make([]*netlink.U32, 0, len(want))
	for _, r := range want {
		a := addr.As4()
		wantFilters = append(wantFilters, &netlink.U32{
			FilterAttrs: netlink.FilterAttrs{LinkIndex: eniLink.Attrs().Index, Parent: parent, Protocol: unix.ETH_P_IP},
			Sel: &netlink.TcU32Sel{Flags: netlink.TC_U32_TERMINAL, Keys: []netlink.TcU32Key{
				{Mask: 0xff000000, Val: 0x45000000, Off: 0},                                                            // version 4, no options
				{Mask: 0x00ff0000, Val: uint32(r.proto) << 16, Off: 8},                                                 // protocol
				{Mask: 0xffffffff, Val: uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]), Off: 16}, // destination
				{Mask: 0x0000ffff, Val: uint32(r.port), Off: 20},                                                       // destination port
			}},
			Actions: []netlink.Action{mirred(r.to, netlink.TCA_EGRESS_REDIR)},
		})
	}
	if sameRedirects(have, wantFilters) {
		return nil
	}
	// The new set at the priority the old one does not use, then the old
	// set goes.
	prio := uint16(redirectPrioA)
	for _, f := range have {
		if f.Attrs().Priority == redirectPrioA {
			prio = redirectPrioB
		}
	}
	for _, f := range wantFilters {
		f.Priority = prio
		if err := rc.nl.FilterAdd(f); err != nil {
			return fmt.Errorf("dataplane: redirect port %d of %s in %s: %w", f.Sel.Keys[3].Val, eniLink.Attrs().Name, rcNS, err)
		}
	}
	for _, f := range have {
		if f.Attrs().Priority == prio {
			continue
		}
		if err := rc.nl.FilterDel(f); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("dataplane: delete redirect of %s in %s: %w", eniLink.Attrs().Name, rcNS, err)
		}
	}
	return nil
}

// sameRedirects compares installed filters with wanted ones by what they
// match and where they send it.
func sameRedirects(have []netlink.Filter, want []*netlink.U32) bool {
	type sig struct {
		keys string
		to   int
	}
	sigs := func(fs []*netlink.U32) []sig {
		var out []sig
		for _, f := range fs {
			s := sig{keys: fmt.Sprint(f.Sel.Keys)}
			for _, a := range f.Actions {
				if m, ok := a.(*netlink.MirredAction); ok {
					s.to = m.Ifindex
				}
			}
			out = append(out, s)
		}
		slices.SortFunc(out, func(a, b sig) int { return cmp.Or(cmp.Compare(a.keys, b.keys), cmp.Compare(a.to, b.to)) })
		return out
	}
	var h []*netlink.U32
	for _, f := range have {
		u, ok := f.(*netlink.U32)
		if !ok || u.Sel == nil {
			return false
		}
		h = append(h, u)
	}
	return slices.Equal(sigs(h), sigs(want))
}
