package dataplane

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// rulesetEncoding names how writeRuleset turns the model into netlink.
// It is part of the fingerprint: change it whenever the translation changes
// while the rendered model does not, so tables written by an older privlink
// are rewritten.
const rulesetEncoding = "2: subnet marks stored big-endian"

// fingerprint identifies a rendered ruleset; it is stored as the user data
// of the first forward rule so an unchanged ruleset is not rewritten.
func (rs nftRuleset) fingerprint() []byte {
	sum := sha256.Sum256([]byte(rulesetEncoding + "\n" + rs.String()))
	return append([]byte("privlink:"), sum[:16]...)
}

// observedFingerprint reads the fingerprint of the table in the namespace,
// nil if the table or the marker is absent.
func observedFingerprint(nsFd int) ([]byte, error) {
	c, err := nftables.New(nftables.WithNetNSFd(nsFd))
	if err != nil {
		return nil, fmt.Errorf("dataplane: nftables conn: %w", err)
	}
	t, err := c.ListTableOfFamily(nftTableName, nftables.TableFamilyINet)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOENT) {
			return nil, nil
		}
		return nil, fmt.Errorf("dataplane: list table: %w", err)
	}
	rules, err := c.GetRules(t, &nftables.Chain{Name: "forward", Table: t})
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOENT) {
			return nil, nil
		}
		return nil, fmt.Errorf("dataplane: list forward rules: %w", err)
	}
	if len(rules) == 0 {
		return nil, nil
	}
	return rules[0].UserData, nil
}

// batchBuffer is the socket buffer for table writes. A table is replaced
// in one transaction, and the kernel takes a transaction in one message, so
// the whole batch must fit the send buffer: the default (net.core.wmem_max,
// often 208 KiB) held a VPC of about 100 interfaces. Root may raise it past
// that limit; the kernel only allocates what a message really needs.
const batchBuffer = 64 << 20

// largeBatches lifts the buffer limits of a netlink socket (FORCE: past
// net.core.[rw]mem_max, which needs CAP_NET_ADMIN, as writing rules does).
func largeBatches(c *netlink.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, batchBuffer); serr == nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, batchBuffer)
		}
	})
	if err == nil && serr != nil {
		err = fmt.Errorf("netlink buffers: %w", serr)
	}
	return err
}

// applyRuleset replaces the table atomically: add (so delete cannot fail),
// delete, then add the new content, all in one netlink batch. Conntrack
// entries live outside the table, so established connections survive.
// It returns whether anything was written.
func applyRuleset(nsFd int, rs nftRuleset) (bool, error) {
	want := rs.fingerprint()
	have, err := observedFingerprint(nsFd)
	if err != nil {
		return false, err
	}
	if bytes.Equal(have, want) {
		return false, nil
	}
	c, err := nftables.New(nftables.WithNetNSFd(nsFd), nftables.WithSockOptions(largeBatches))
	if err != nil {
		return false, fmt.Errorf("dataplane: nftables conn: %w", err)
	}
	if err := writeRuleset(c, rs, want); err != nil {
		return false, err
	}
	return true, nil
}

// writeRuleset sends the whole table in one batch on c.
func writeRuleset(c *nftables.Conn, rs nftRuleset, fingerprint []byte) error {
	table := &nftables.Table{Name: nftTableName, Family: nftables.TableFamilyINet}
	c.AddTable(table)
	c.DelTable(table)
	c.AddTable(table)
	// Chains come before sets: verdict-map elements name the chains they
	// jump to, and the kernel resolves those names as elements arrive.
	chains := map[string]*nftables.Chain{}
	for _, ch := range rs.Chains {
		chain := &nftables.Chain{Name: ch.Name, Table: table}
		drop, accept := nftables.ChainPolicyDrop, nftables.ChainPolicyAccept
		switch ch.Hook {
		case hookForward:
			chain.Type, chain.Hooknum, chain.Priority, chain.Policy = nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter, &drop
		case hookInput:
			chain.Type, chain.Hooknum, chain.Priority, chain.Policy = nftables.ChainTypeFilter, nftables.ChainHookInput, nftables.ChainPriorityFilter, &accept
		case hookPostrouting:
			chain.Type, chain.Hooknum, chain.Priority, chain.Policy = nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource, &accept
		case hookPrerouting:
			chain.Type, chain.Hooknum, chain.Priority, chain.Policy = nftables.ChainTypeFilter, nftables.ChainHookPrerouting, nftables.ChainPriorityMangle, &accept
		case hookFabricOut:
			prio := nftables.ChainPriority(fabricOutPriority)
			chain.Type, chain.Hooknum, chain.Priority, chain.Policy = nftables.ChainTypeFilter, nftables.ChainHookPostrouting, &prio, &accept
		}
		chains[ch.Name] = c.AddChain(chain)
	}
	sets := map[string]*nftables.Set{}
	for i, s := range rs.Sets {
		set, elems := nftSetOf(table, s)
		// Batch-local IDs set here keep the library from touching its
		// unsynchronized global ID counter (concurrent realizers race on it).
		set.ID = uint32(i + 1)
		if err := c.AddSet(set, nil); err != nil {
			return fmt.Errorf("dataplane: add set %s: %w", s.Name, err)
		}
		for _, chunk := range elementChunks(elems) {
			if err := c.SetAddElements(set, chunk); err != nil {
				return fmt.Errorf("dataplane: add elements to set %s: %w", s.Name, err)
			}
		}
		sets[s.Name] = set
	}
	for ci, ch := range rs.Chains {
		for ri, r := range ch.Rules {
			exprs, err := ruleExprs(r, sets)
			if err != nil {
				return fmt.Errorf("dataplane: chain %s rule %q: %w", ch.Name, r, err)
			}
			rule := &nftables.Rule{Table: table, Chain: chains[ch.Name], Exprs: exprs}
			if ci == 0 && ri == 0 {
				rule.UserData = fingerprint
			}
			c.AddRule(rule)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("dataplane: flush nftables batch: %w", err)
	}
	return nil
}

// elementsPerMessage bounds one element message: netlink attribute lengths
// are 16 bits, and a list of some 2,500 interface elements overflowed one.
const elementsPerMessage = 512

// elementChunks splits elements into messages of at most
// elementsPerMessage, never between an interval's start and its end.
func elementChunks(elems []nftables.SetElement) [][]nftables.SetElement {
	var out [][]nftables.SetElement
	for len(elems) > 0 {
		n := min(len(elems), elementsPerMessage)
		for n < len(elems) && elems[n].IntervalEnd {
			n++
		}
		out = append(out, elems[:n])
		elems = elems[n:]
	}
	return out
}

// deleteRuleset removes the router table if present.
func deleteRuleset(nsFd int) error {
	return deleteTable(nsFd, nftables.Table{Name: nftTableName, Family: nftables.TableFamilyINet})
}

// deleteTable removes table from the namespace if it is there.
func deleteTable(nsFd int, table nftables.Table) error {
	c, err := nftables.New(nftables.WithNetNSFd(nsFd))
	if err != nil {
		return fmt.Errorf("dataplane: nftables conn: %w", err)
	}
	c.AddTable(&table) // so that deleting cannot fail for its absence
	c.DelTable(&table)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("dataplane: delete table %s: %w", table.Name, err)
	}
	return nil
}

func ifnameBytes(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

func nftSetOf(t *nftables.Table, s nftSet) (*nftables.Set, []nftables.SetElement) {
	set := &nftables.Set{Table: t, Name: s.Name}
	var elems []nftables.SetElement
	switch s.Kind {
	case setIfname:
		set.KeyType = nftables.TypeIFName
		set.KeyByteOrder = binaryutil.NativeEndian // lets nft print names
		for _, n := range s.Ifnames {
			elems = append(elems, nftables.SetElement{Key: ifnameBytes(n)})
		}
	case setAddr:
		set.KeyType = nftables.TypeIPAddr
		for _, p := range s.Prefixes {
			a := p.Addr().As4()
			elems = append(elems, nftables.SetElement{Key: a[:]})
		}
	case mapIfnameJump, mapIfnameMark:
		set.KeyType = nftables.TypeIFName
		set.KeyByteOrder = binaryutil.NativeEndian
		set.IsMap = true
		set.DataType = nftables.TypeVerdict
		if s.Kind == mapIfnameMark {
			set.DataType = nftables.TypeMark
		}
		for i, n := range s.Ifnames {
			e := nftables.SetElement{Key: ifnameBytes(n)}
			if s.Kind == mapIfnameJump {
				e.VerdictData = &expr.Verdict{Kind: expr.VerdictJump, Chain: s.Chains[i]}
			} else {
				// Stored big-endian, which is how nft prints map data, and
				// turned to host order by the rule before it becomes the mark.
				e.Val = binaryutil.BigEndian.PutUint32(s.Marks[i])
			}
			elems = append(elems, e)
		}
	case mapMarkJump:
		// Keys in host order, as the packet mark is loaded.
		set.KeyType = nftables.TypeMark
		set.KeyByteOrder = binaryutil.NativeEndian
		set.IsMap = true
		set.DataType = nftables.TypeVerdict
		for i, m := range s.Marks {
			elems = append(elems, nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(m),
				VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: s.Chains[i]}})
		}
	case mapAddrJump:
		set.KeyType = nftables.TypeIPAddr
		set.IsMap = true
		set.DataType = nftables.TypeVerdict
		for i, p := range s.Prefixes {
			a := p.Addr().As4()
			elems = append(elems, nftables.SetElement{Key: a[:], VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: s.Chains[i]}})
		}
	case setAddrInterval:
		set.KeyType = nftables.TypeIPAddr
		set.Interval = true
		for i := 0; i+1 < len(s.Prefixes); i += 2 {
			lo := s.Prefixes[i].Addr().As4()
			elems = append(elems, nftables.SetElement{Key: lo[:]})
			hi := s.Prefixes[i+1].Addr()
			if next := hi.Next(); next.IsValid() && next.Is4() {
				end := next.As4()
				elems = append(elems, nftables.SetElement{Key: end[:], IntervalEnd: true})
			}
		}
	}
	return set, elems
}

func ruleExprs(r nftRule, sets map[string]*nftables.Set) ([]expr.Any, error) {
	var out []expr.Any
	for _, m := range r.Matches {
		e, err := matchExprs(m, sets)
		if err != nil {
			return nil, err
		}
		out = append(out, e...)
	}
	switch r.Verdict {
	case verdictAccept:
		out = append(out, &expr.Verdict{Kind: expr.VerdictAccept})
	case verdictDrop:
		out = append(out, &expr.Verdict{Kind: expr.VerdictDrop})
	case verdictReturn:
		out = append(out, &expr.Verdict{Kind: expr.VerdictReturn})
	case verdictJump:
		out = append(out, &expr.Verdict{Kind: expr.VerdictJump, Chain: r.Jump})
	case verdictMasquerade:
		out = append(out, &expr.Masq{})
	case verdictVmap, verdictMarkMap:
		m, ok := sets[r.Map]
		if !ok {
			return nil, fmt.Errorf("unknown map %s", r.Map)
		}
		key := expr.MetaKeyIIFNAME
		switch r.MapKey {
		case fieldOifname:
			key = expr.MetaKeyOIFNAME
		case fieldMark:
			key = expr.MetaKeyMARK
		}
		if r.MapKey == fieldDaddr {
			out = append(out, &expr.Payload{OperationType: expr.PayloadLoad, DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4})
		} else {
			out = append(out, &expr.Meta{Key: key, Register: 1})
		}
		if r.Verdict == verdictVmap {
			out = append(out, &expr.Lookup{SourceRegister: 1, SetName: m.Name, SetID: m.ID, IsDestRegSet: true, DestRegister: 0})
			break
		}
		// A miss ends the rule: the mark stays as it was (0, the main table).
		out = append(out, &expr.Lookup{SourceRegister: 1, SetName: m.Name, SetID: m.ID, IsDestRegSet: true, DestRegister: 1},
			&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderNtoh, Len: 4, Size: 4},
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1})
	}
	return out, nil
}

func cmpOp(neg bool) expr.CmpOp {
	if neg {
		return expr.CmpOpNeq
	}
	return expr.CmpOpEq
}

// compare finishes a match on register 1: a set lookup or a literal compare.
func compare(m nftMatch, literal []byte, sets map[string]*nftables.Set) ([]expr.Any, error) {
	if m.Set != "" {
		s, ok := sets[m.Set]
		if !ok {
			return nil, fmt.Errorf("unknown set %s", m.Set)
		}
		return []expr.Any{&expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID, Invert: m.Neg}}, nil
	}
	return []expr.Any{&expr.Cmp{Op: cmpOp(m.Neg), Register: 1, Data: literal}}, nil
}

func matchExprs(m nftMatch, sets map[string]*nftables.Set) ([]expr.Any, error) {
	switch m.Field {
	case fieldNfproto:
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: cmpOp(m.Neg), Register: 1, Data: []byte{byte(m.Value)}},
		}, nil
	case fieldIifname, fieldOifname:
		key := expr.MetaKeyIIFNAME
		if m.Field == fieldOifname {
			key = expr.MetaKeyOIFNAME
		}
		tail, err := compare(m, ifnameBytes(m.Name), sets)
		return append([]expr.Any{&expr.Meta{Key: key, Register: 1}}, tail...), err
	case fieldSaddr, fieldDaddr:
		offset := uint32(12)
		if m.Field == fieldDaddr {
			offset = 16
		}
		// The nfproto test is redundant (IPv6 is dropped first) but lets
		// nft print "ip saddr" instead of a raw payload.
		out := []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
			&expr.Payload{OperationType: expr.PayloadLoad, DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		}
		if m.Set != "" {
			tail, err := compare(m, nil, sets)
			return append(out, tail...), err
		}
		if bits := m.Prefix.Bits(); bits < 32 {
			mask := binaryutil.BigEndian.PutUint32(^uint32(0) << (32 - bits))
			out = append(out, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)})
		}
		a := m.Prefix.Masked().Addr().As4()
		return append(out, &expr.Cmp{Op: cmpOp(m.Neg), Register: 1, Data: a[:]}), nil
	case fieldMark:
		out := []expr.Any{&expr.Meta{Key: expr.MetaKeyMARK, Register: 1}}
		if m.Mask != 0 {
			out = append(out, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(m.Mask), Xor: make([]byte, 4)})
		}
		return append(out, &expr.Cmp{Op: cmpOp(m.Neg), Register: 1, Data: binaryutil.NativeEndian.PutUint32(m.Value)}), nil
	case fieldCtMark:
		return []expr.Any{
			&expr.Ct{Key: expr.CtKeyMARK, Register: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(m.Mask), Xor: make([]byte, 4)},
			&expr.Cmp{Op: cmpOp(m.Neg), Register: 1, Data: binaryutil.NativeEndian.PutUint32(m.Value)},
		}, nil
	case fieldCtDirection:
		return []expr.Any{
			&expr.Ct{Key: expr.CtKeyDIRECTION, Register: 1},
			&expr.Cmp{Op: cmpOp(m.Neg), Register: 1, Data: []byte{byte(m.Value)}},
		}, nil
	case fieldL4proto:
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: cmpOp(m.Neg), Register: 1, Data: []byte{byte(m.Value)}},
		}, nil
	case fieldDport:
		load := &expr.Payload{OperationType: expr.PayloadLoad, DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}
		if m.Lo == m.Hi {
			return []expr.Any{load, &expr.Cmp{Op: cmpOp(m.Neg), Register: 1, Data: binaryutil.BigEndian.PutUint16(m.Lo)}}, nil
		}
		return []expr.Any{load, &expr.Range{Op: cmpOp(m.Neg), Register: 1,
			FromData: binaryutil.BigEndian.PutUint16(m.Lo), ToData: binaryutil.BigEndian.PutUint16(m.Hi)}}, nil
	case fieldICMPType, fieldICMPCode:
		offset := uint32(0)
		if m.Field == fieldICMPCode {
			offset = 1
		}
		return []expr.Any{
			&expr.Payload{OperationType: expr.PayloadLoad, DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: offset, Len: 1},
			&expr.Cmp{Op: cmpOp(m.Neg), Register: 1, Data: []byte{byte(m.Lo)}},
		}, nil
	case fieldCtState, fieldCtStatus:
		// A bitmask test: set bits present (or, negated, all absent).
		op := expr.CmpOpNeq
		if m.Neg {
			op = expr.CmpOpEq
		}
		key := expr.CtKeySTATE
		if m.Field == fieldCtStatus {
			key = expr.CtKeySTATUS
		}
		return []expr.Any{
			&expr.Ct{Key: key, Register: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(m.Value), Xor: make([]byte, 4)},
			&expr.Cmp{Op: op, Register: 1, Data: make([]byte, 4)},
		}, nil
	}
	return nil, fmt.Errorf("unknown match field %d", m.Field)
}
