package dataplane

import (
	"fmt"
	"strings"
)

// String renders the ruleset in nft syntax, for tests, logs and the
// fingerprint that makes re-applying an unchanged ruleset a no-op.
func (rs nftRuleset) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", nftTableName)
	for _, s := range rs.Sets {
		kind := "set"
		if s.isMap() {
			kind = "map"
		}
		fmt.Fprintf(&b, "\t%s %s { %s }\n", kind, s.Name, s.render())
	}
	for _, c := range rs.Chains {
		fmt.Fprintf(&b, "\tchain %s {\n", c.Name)
		switch c.Hook {
		case hookForward:
			b.WriteString("\t\ttype filter hook forward priority filter; policy drop;\n")
		case hookInput:
			b.WriteString("\t\ttype filter hook input priority filter; policy accept;\n")
		case hookPostrouting:
			b.WriteString("\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
		case hookPrerouting:
			b.WriteString("\t\ttype filter hook prerouting priority mangle; policy accept;\n")
		case hookFabricOut:
			fmt.Fprintf(&b, "\t\ttype filter hook postrouting priority %d; policy accept;\n", fabricOutPriority)
		}
		for _, r := range c.Rules {
			fmt.Fprintf(&b, "\t\t%s\n", r)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

func (s nftSet) render() string {
	types := map[setKind]string{
		setIfname:       "type ifname;",
		setAddr:         "type ipv4_addr;",
		setAddrInterval: "type ipv4_addr; flags interval;",
		mapIfnameJump:   "type ifname : verdict;",
		mapIfnameMark:   "type ifname : mark;",
		mapAddrJump:     "type ipv4_addr : verdict;",
		mapMarkJump:     "type mark : verdict;",
	}
	elems := s.keyStrings()
	for i := range elems {
		switch {
		case s.Kind == mapIfnameMark:
			elems[i] += fmt.Sprintf(" : 0x%08x", s.Marks[i])
		case s.isMap():
			elems[i] += " : jump " + s.Chains[i]
		}
	}
	if len(elems) == 0 {
		return types[s.Kind]
	}
	return types[s.Kind] + " elements = { " + strings.Join(elems, ", ") + " }"
}

// keyStrings renders a set's keys (an interval as start-end) as nft
// writes them.
func (s nftSet) keyStrings() []string {
	var out []string
	switch s.Kind {
	case setIfname, mapIfnameJump, mapIfnameMark:
		for _, n := range s.Ifnames {
			out = append(out, fmt.Sprintf("%q", n))
		}
	case setAddr, mapAddrJump:
		for _, p := range s.Prefixes {
			out = append(out, p.Addr().String())
		}
	case setAddrInterval:
		for i := 0; i+1 < len(s.Prefixes); i += 2 {
			out = append(out, s.Prefixes[i].Addr().String()+"-"+s.Prefixes[i+1].Addr().String())
		}
	case mapMarkJump:
		for _, m := range s.Marks {
			out = append(out, fmt.Sprintf("0x%08x", m))
		}
	}
	return out
}

// isMap reports whether the set maps its keys to data or verdicts.
func (s nftSet) isMap() bool {
	return s.Kind == mapIfnameJump || s.Kind == mapIfnameMark || s.Kind == mapMarkJump || s.Kind == mapAddrJump
}

func (r nftRule) String() string {
	parts := make([]string, 0, len(r.Matches)+1)
	for _, m := range r.Matches {
		parts = append(parts, m.String())
	}
	switch r.Verdict {
	case verdictAccept:
		parts = append(parts, "accept")
	case verdictDrop:
		parts = append(parts, "drop")
	case verdictReturn:
		parts = append(parts, "return")
	case verdictJump:
		parts = append(parts, "jump "+r.Jump)
	case verdictMasquerade:
		parts = append(parts, "masquerade")
	case verdictVmap:
		parts = append(parts, mapKeyName(r.MapKey)+" vmap @"+r.Map)
	case verdictMarkMap:
		parts = append(parts, "meta mark set "+mapKeyName(r.MapKey)+" map @"+r.Map)
	}
	return strings.Join(parts, " ")
}

func (m nftMatch) String() string {
	op := ""
	if m.Neg {
		op = "!= "
	}
	value := func(literal string) string {
		if m.Set != "" {
			return op + "@" + m.Set
		}
		return op + literal
	}
	switch m.Field {
	case fieldNfproto:
		return "meta nfproto " + op + protoFamilyName(m.Value)
	case fieldIifname:
		return "iifname " + value(fmt.Sprintf("%q", m.Name))
	case fieldOifname:
		return "oifname " + value(fmt.Sprintf("%q", m.Name))
	case fieldSaddr:
		return "ip saddr " + value(m.Prefix.String())
	case fieldDaddr:
		return "ip daddr " + value(m.Prefix.String())
	case fieldL4proto:
		return "meta l4proto " + op + fmt.Sprint(m.Value)
	case fieldDport:
		if m.Lo == m.Hi {
			return fmt.Sprintf("th dport %s%d", op, m.Lo)
		}
		return fmt.Sprintf("th dport %s%d-%d", op, m.Lo, m.Hi)
	case fieldICMPType:
		return fmt.Sprintf("icmp type %s%d", op, m.Lo)
	case fieldICMPCode:
		return fmt.Sprintf("icmp code %s%d", op, m.Lo)
	case fieldCtState:
		return "ct state " + op + ctStateNames(m.Value)
	case fieldMark:
		if m.Mask != 0 {
			return fmt.Sprintf("meta mark & 0x%08x %s 0x%08x", m.Mask, eqOp(m.Neg), m.Value)
		}
		return fmt.Sprintf("meta mark %s0x%08x", op, m.Value)
	case fieldCtStatus:
		name := fmt.Sprintf("0x%x", m.Value)
		if m.Value == ctStatusDstNAT {
			name = "dnat"
		}
		if m.Neg {
			return "ct status ! " + name
		}
		return "ct status " + name
	case fieldCtMark:
		return fmt.Sprintf("ct mark & 0x%08x %s 0x%08x", m.Mask, eqOp(m.Neg), m.Value)
	case fieldCtDirection:
		dir := "original"
		if m.Value == ctDirReply {
			dir = "reply"
		}
		return "ct direction " + op + dir
	}
	return fmt.Sprintf("<field %d>", m.Field)
}

func eqOp(neg bool) string {
	if neg {
		return "!="
	}
	return "=="
}

func protoFamilyName(v uint32) string {
	switch v {
	case 2:
		return "ipv4"
	case 10:
		return "ipv6"
	}
	return fmt.Sprint(v)
}

func ctStateNames(v uint32) string {
	var names []string
	for _, s := range []struct {
		bit  uint32
		name string
	}{{ctInvalid, "invalid"}, {ctEstablished, "established"}, {ctRelated, "related"}, {ctNew, "new"}} {
		if v&s.bit != 0 {
			names = append(names, s.name)
		}
	}
	return strings.Join(names, ",")
}

// mapKeyName is how nft writes the key of a map lookup.
func mapKeyName(f matchField) string {
	switch f {
	case fieldOifname:
		return "oifname"
	case fieldMark:
		return "meta mark"
	case fieldDaddr:
		return "ip daddr"
	}
	return "iifname"
}
