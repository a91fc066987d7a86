package controlplane

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// sgProtocolNumbers maps the protocol names AWS accepts to their numbers.
var sgProtocolNumbers = map[string]string{"tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58"}

// normalizeSGProtocol returns the stored form of a security group rule's
// protocol: "-1", a name for tcp/udp/icmp/icmpv6, else a decimal number.
func normalizeSGProtocol(p string) (string, error) {
	lp := strings.ToLower(strings.TrimSpace(p))
	if lp == "" {
		return "", cloud.MissingParameter("IpProtocol")
	}
	if lp == "all" || lp == "-1" {
		return "-1", nil
	}
	if _, ok := sgProtocolNumbers[lp]; ok {
		return lp, nil
	}
	n, err := strconv.Atoi(lp)
	if err != nil || n < 0 || n > 255 {
		return "", cloud.Errorf("InvalidParameterValue", "Invalid value '%s' for IP protocol. Unknown protocol.", p)
	}
	for name, num := range sgProtocolNumbers {
		if num == strconv.Itoa(n) {
			return name, nil
		}
	}
	return strconv.Itoa(n), nil
}

// normalizeSGPorts validates and canonicalises a permission's ports: TCP/UDP
// need a 0–65535 range, ICMP a type and code (-1 = all), ICMPv6 may omit
// them, and every other protocol covers all ports (-1/-1).
func normalizeSGPorts(proto string, from, to *int) (int, int, error) {
	switch proto {
	case "tcp", "udp":
		if from == nil || to == nil {
			return 0, 0, cloud.Errorf("InvalidParameterValue", "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange.")
		}
		for _, p := range []int{*from, *to} {
			if p < 0 || p > 65535 {
				return 0, 0, cloud.Errorf("InvalidPermission.Malformed", "TCP/UDP port (%d) out of range", p)
			}
		}
		if *from > *to {
			return 0, 0, cloud.Errorf("InvalidParameterValue", "Invalid value 'Invalid TCP/UDP port range: %d-%d' for portRange.", *from, *to)
		}
		return *from, *to, nil
	case "icmp", "icmpv6":
		if from == nil && to == nil && proto == "icmpv6" {
			return -1, -1, nil
		}
		if from == nil || to == nil {
			return 0, 0, cloud.Errorf("InvalidParameterValue", "Invalid value 'Must specify both from and to ports with ICMP.' for portRange.")
		}
		for _, p := range []int{*from, *to} {
			if p < -1 || p > 255 {
				return 0, 0, cloud.Errorf("InvalidParameterValue", "Invalid value '%d' for portRange. ICMP type and code must be between -1 and 255.", p)
			}
		}
		if *from == -1 && *to != -1 {
			return 0, 0, cloud.Errorf("InvalidParameterValue", "Invalid value 'ICMP code (%d) must be -1 when the type is -1.' for portRange.", *to)
		}
		return *from, *to, nil
	}
	return -1, -1, nil
}

// canonicalRuleCIDR parses an IPv4 (or IPv6) CIDR and returns its masked form.
func canonicalRuleCIDR(s string, v6 bool) (string, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil || p.Addr().Is6() != v6 || p.Addr().Is4In6() {
		return "", cloud.Errorf("InvalidParameterValue", "CIDR block %s is malformed", s)
	}
	return p.Masked().String(), nil
}

// validSGText reports whether s fits AWS's rule for VPC security group
// names and descriptions: at most 255 characters of a-zA-Z0-9, space and
// ._-:/()#,@[]+=&;{}!$*.
func validSGText(s string) bool {
	if len(s) > 255 {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(" ._-:/()#,@[]+=&;{}!$*", r)
		if !ok {
			return false
		}
	}
	return true
}

// sgRuleKey is what makes two rules the same rule (descriptions do not).
func sgRuleKey(r cloud.SecurityGroupRule) string {
	return fmt.Sprintf("%t|%s|%d|%d|%s|%s|%s|%s", r.Egress, r.IPProtocol, r.FromPort, r.ToPort, r.CidrIPv4, r.CidrIPv6, r.PrefixList, r.GroupID)
}

// sgRuleText is the rule as AWS names it in duplicate-rule errors.
func sgRuleText(r cloud.SecurityGroupRule) string {
	peer := r.CidrIPv4 + r.CidrIPv6 + r.PrefixList + r.GroupID
	proto := strings.ToUpper(r.IPProtocol)
	if r.IPProtocol == "-1" {
		proto = "ALL"
	}
	return fmt.Sprintf("peer: %s, %s, from port: %d, to port: %d, ALLOW", peer, proto, r.FromPort, r.ToPort)
}

// expandPermissions validates permissions for group g and turns them into
// one rule per peer (without IDs). Referenced groups must be the caller's
// and in g's VPC; prefix lists must exist.
// When revoking (lookup false), IDs of groups and prefix lists are taken as
// given: a rule naming them can be removed whatever became of them.
func (cp *ControlPlane) expandPermissions(tx *store.Tx, c *Call, g *cloud.SecurityGroup, egress, lookup bool, perms []IPPermission) ([]cloud.SecurityGroupRule, error) {
	if len(perms) == 0 {
		return nil, cloud.MissingParameter("IpPermissions")
	}
	var out []cloud.SecurityGroupRule
	for _, p := range perms {
		proto, err := normalizeSGProtocol(p.IPProtocol)
		if err != nil {
			return nil, err
		}
		from, to, err := normalizeSGPorts(proto, p.FromPort, p.ToPort)
		if err != nil {
			return nil, err
		}
		if len(p.IPRanges)+len(p.IPv6Ranges)+len(p.PrefixList)+len(p.Groups) == 0 {
			return nil, cloud.Errorf("InvalidParameterValue", "Each IP permission must name at least one of IpRanges, Ipv6Ranges, PrefixListIds or Groups.")
		}
		base := cloud.SecurityGroupRule{Egress: egress, IPProtocol: proto, FromPort: from, ToPort: to}
		add := func(r cloud.SecurityGroupRule, desc string) error {
			if !validSGText(desc) {
				return cloud.Errorf("InvalidParameterValue", "Invalid rule description. Valid descriptions are strings less than 256 characters from the following set:  a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*")
			}
			r.Description = desc
			out = append(out, r)
			return nil
		}
		for _, peer := range p.IPRanges {
			r := base
			if r.CidrIPv4, err = canonicalRuleCIDR(peer.CidrIPv4, false); err != nil {
				return nil, err
			}
			if err := add(r, peer.Description); err != nil {
				return nil, err
			}
		}
		for _, peer := range p.IPv6Ranges {
			r := base
			if r.CidrIPv6, err = canonicalRuleCIDR(peer.CidrIPv6, true); err != nil {
				return nil, err
			}
			if err := add(r, peer.Description); err != nil {
				return nil, err
			}
		}
		for _, peer := range p.PrefixList {
			r := base
			if peer.PrefixListID == "" {
				return nil, cloud.MissingParameter("PrefixListId")
			}
			if lookup && lookupPrefixList(tx, c, peer.PrefixListID) == nil {
				return nil, cloud.Errorf("InvalidPrefixListId.NotFound", "The prefix list ID '%s' does not exist", peer.PrefixListID)
			}
			r.PrefixList = peer.PrefixListID
			if err := add(r, peer.Description); err != nil {
				return nil, err
			}
		}
		for _, peer := range p.Groups {
			r := base
			if !lookup && peer.GroupID != "" {
				r.GroupID, r.GroupOwner = peer.GroupID, c.Account()
			} else {
				ref, err := cp.referencedSecurityGroup(tx, c, g, peer)
				if err != nil {
					return nil, err
				}
				r.GroupID, r.GroupOwner = ref.ID, ref.OwnerID
			}
			if err := add(r, peer.Description); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// referencedSecurityGroup resolves a rule's group peer: only the caller's groups in
// the same VPC qualify (privlink models no VPC peering).
func (cp *ControlPlane) referencedSecurityGroup(tx *store.Tx, c *Call, g *cloud.SecurityGroup, peer RulePeer) (*cloud.SecurityGroup, error) {
	if peer.UserID != "" && peer.UserID != c.Account() {
		name := peer.GroupID
		if name == "" {
			name = peer.GroupName
		}
		return nil, cloud.Errorf("InvalidGroup.NotFound", "The security group '%s' does not exist", name)
	}
	var ref *cloud.SecurityGroup
	switch {
	case peer.GroupID != "":
		ref = getOwned[cloud.SecurityGroup](tx, c, cloud.KindSecurityGroup, peer.GroupID)
		if ref == nil || ref.VpcID != g.VpcID {
			return nil, cloud.Errorf("InvalidGroup.NotFound", "The security group '%s' does not exist", peer.GroupID)
		}
	case peer.GroupName != "":
		ref = findSecurityGroupByName(tx, c, peer.GroupName, g.VpcID)
		if ref == nil {
			return nil, cloud.Errorf("InvalidGroup.NotFound", "The security group '%s' does not exist in VPC '%s'", peer.GroupName, g.VpcID)
		}
	default:
		return nil, cloud.MissingParameter("GroupId")
	}
	return ref, nil
}

// SecurityGroupRuleRow is a stored rule with the group it belongs to, as
// the SecurityGroupRule shape reports it.
type SecurityGroupRuleRow struct {
	GroupID, OwnerID, Region string
	Rule                     cloud.SecurityGroupRule
}

func sgRuleRows(g *cloud.SecurityGroup, rules []cloud.SecurityGroupRule) []SecurityGroupRuleRow {
	out := make([]SecurityGroupRuleRow, len(rules))
	for i, r := range rules {
		out[i] = SecurityGroupRuleRow{GroupID: g.ID, OwnerID: g.OwnerID, Region: g.Region, Rule: r}
	}
	return out
}

// AuthorizeSecurityGroupInput is Authorize/RevokeSecurityGroupIngress/Egress's parameters.
type AuthorizeSecurityGroupInput struct {
	GroupID, GroupName string
	Egress             bool
	Permissions        []IPPermission
	Tags               []TagSpec
	// RuleIDs selects rules to revoke by ID (revoke only).
	RuleIDs []string
}

// AuthorizeSecurityGroup adds rules to a group, all or nothing: a rule
// that exists already (or twice in the call) is InvalidPermission.Duplicate.
func (cp *ControlPlane) AuthorizeSecurityGroup(ctx context.Context, c *Call, in AuthorizeSecurityGroupInput) ([]SecurityGroupRuleRow, error) {
	if in.Egress && in.GroupID == "" {
		return nil, cloud.MissingParameter("GroupId")
	}
	tags, err := tagsFor(in.Tags, "security-group-rule")
	if err != nil {
		return nil, err
	}
	var added []SecurityGroupRuleRow
	err = cp.db.Update(ctx, func(tx *store.Tx) error {
		g, err := resolveSecurityGroup(tx, c, in.GroupID, in.GroupName)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, SecurityGroupARN(g)); err != nil {
			return err
		}
		rules, err := cp.expandPermissions(tx, c, g, in.Egress, true, in.Permissions)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		count := 0
		for _, r := range g.Rules {
			seen[sgRuleKey(r)] = true
			if r.Egress == in.Egress {
				count++
			}
		}
		for i := range rules {
			k := sgRuleKey(rules[i])
			if seen[k] {
				return cloud.Errorf("InvalidPermission.Duplicate", "the specified rule \"%s\" already exists", sgRuleText(rules[i]))
			}
			seen[k] = true
			rules[i].ID = cloud.NewID("sgr")
			rules[i].Tags = sortTags(tags)
		}
		if count+len(rules) > maxRulesPerDirection {
			return cloud.Errorf("RulesPerSecurityGroupLimitExceeded", "The maximum number of rules per security group has been reached.")
		}
		ng := store.Clone(g)
		ng.Rules = append(append([]cloud.SecurityGroupRule(nil), g.Rules...), rules...)
		tx.Put(cloud.KindSecurityGroup, ng.ID, ng)
		added = sgRuleRows(g, rules)
		return nil
	})
	return added, err
}

// RevokeSecurityGroup removes exactly the rules named (by permission or by
// rule ID); if any is not in the group, nothing is removed.
func (cp *ControlPlane) RevokeSecurityGroup(ctx context.Context, c *Call, in AuthorizeSecurityGroupInput) ([]SecurityGroupRuleRow, error) {
	if in.Egress && in.GroupID == "" {
		return nil, cloud.MissingParameter("GroupId")
	}
	if len(in.Permissions) > 0 && len(in.RuleIDs) > 0 {
		return nil, cloud.Errorf("InvalidParameterCombination", "You may specify either IpPermissions or SecurityGroupRuleIds, not both.")
	}
	if len(in.Permissions) == 0 && len(in.RuleIDs) == 0 {
		return nil, cloud.MissingParameter("IpPermissions")
	}
	var revoked []SecurityGroupRuleRow
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		g, err := resolveSecurityGroup(tx, c, in.GroupID, in.GroupName)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, SecurityGroupARN(g)); err != nil {
			return err
		}
		drop := map[string]bool{} // rule IDs
		if len(in.RuleIDs) > 0 {
			for _, id := range in.RuleIDs {
				i := sgRuleIndex(g, id)
				if i < 0 || g.Rules[i].Egress != in.Egress {
					return cloud.Errorf("InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist", id)
				}
				drop[id] = true
			}
		} else {
			want, err := cp.expandPermissions(tx, c, g, in.Egress, false, in.Permissions)
			if err != nil {
				return err
			}
			byKey := map[string]string{}
			for _, r := range g.Rules {
				byKey[sgRuleKey(r)] = r.ID
			}
			for _, w := range want {
				id, ok := byKey[sgRuleKey(w)]
				if !ok {
					return cloud.Errorf("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
				}
				drop[id] = true
			}
		}
		ng := store.Clone(g)
		ng.Rules = nil
		var gone []cloud.SecurityGroupRule
		for _, r := range g.Rules {
			if drop[r.ID] {
				gone = append(gone, r)
			} else {
				ng.Rules = append(ng.Rules, r)
			}
		}
		tx.Put(cloud.KindSecurityGroup, ng.ID, ng)
		revoked = sgRuleRows(g, gone)
		return nil
	})
	return revoked, err
}

func sgRuleIndex(g *cloud.SecurityGroup, ruleID string) int {
	for i, r := range g.Rules {
		if r.ID == ruleID {
			return i
		}
	}
	return -1
}

var sgRuleFilters = filterer[SecurityGroupRuleRow]{
	tags: func(r *SecurityGroupRuleRow) cloud.Tags { return r.Rule.Tags },
	fields: fields[SecurityGroupRuleRow]{
		"group-id":               func(r *SecurityGroupRuleRow) []string { return one(r.GroupID) },
		"security-group-rule-id": func(r *SecurityGroupRuleRow) []string { return one(r.Rule.ID) },
	},
}

// DescribeSecurityGroupRules lists the rules of the caller's groups, one
// row per rule, sorted by rule ID. Each requested rule ID must exist.
func (cp *ControlPlane) DescribeSecurityGroupRules(ctx context.Context, c *Call, in DescribeInput) ([]*SecurityGroupRuleRow, string, error) {
	if err := cp.checkDryRun(ctx, c); err != nil {
		return nil, "", err
	}
	keep, err := sgRuleFilters.compile(in.Filters)
	if err != nil {
		return nil, "", err
	}
	want := idSet(in.IDs)
	var rows []*SecurityGroupRuleRow
	err = cp.db.View(func(tx *store.Tx) error {
		exists := map[string]bool{}
		for _, g := range listOwned[cloud.SecurityGroup](tx, c, cloud.KindSecurityGroup, nil) {
			for _, row := range sgRuleRows(g, g.Rules) {
				row := row
				exists[row.Rule.ID] = true
				if (want == nil || want[row.Rule.ID]) && keep(&row) {
					rows = append(rows, &row)
				}
			}
		}
		for _, id := range in.IDs {
			if !exists[id] {
				return cloud.Errorf("InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist", id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Rule.ID < rows[j].Rule.ID })
	return paginate(rows, func(r *SecurityGroupRuleRow) string { return r.Rule.ID }, in.Page, 5, 1000)
}

// SecurityGroupRuleUpdate is one ModifySecurityGroupRules entry: the rule's
// ID and its complete new definition (exactly one peer).
type SecurityGroupRuleUpdate struct {
	RuleID                           string
	IPProtocol                       string
	FromPort, ToPort                 *int
	CidrIPv4, CidrIPv6, PrefixListID string
	ReferencedGroupID, Description   string
}

// updatePermission turns an update into a one-peer permission, checking
// that the rule keeps its kind of peer, as AWS requires.
func updatePermission(u SecurityGroupRuleUpdate, old cloud.SecurityGroupRule) (IPPermission, error) {
	perm := IPPermission{IPProtocol: u.IPProtocol, FromPort: u.FromPort, ToPort: u.ToPort}
	peer := RulePeer{Description: u.Description}
	peers, sameKind := 0, true
	if u.CidrIPv4 != "" {
		peers++
		peer.CidrIPv4 = u.CidrIPv4
		perm.IPRanges, sameKind = []RulePeer{peer}, old.CidrIPv4 != ""
	}
	if u.CidrIPv6 != "" {
		peers++
		peer.CidrIPv6 = u.CidrIPv6
		perm.IPv6Ranges, sameKind = []RulePeer{peer}, old.CidrIPv6 != ""
	}
	if u.PrefixListID != "" {
		peers++
		peer.PrefixListID = u.PrefixListID
		perm.PrefixList, sameKind = []RulePeer{peer}, old.PrefixList != ""
	}
	if u.ReferencedGroupID != "" {
		peers++
		peer.GroupID = u.ReferencedGroupID
		perm.Groups, sameKind = []RulePeer{peer}, old.GroupID != ""
	}
	if peers != 1 {
		return perm, cloud.Errorf("InvalidParameterValue", "Exactly one of CidrIpv4, CidrIpv6, PrefixListId and ReferencedGroupId must be specified for rule %s.", u.RuleID)
	}
	if !sameKind {
		return perm, cloud.Errorf("InvalidParameterValue", "The rule %s cannot change its type of source or destination.", u.RuleID)
	}
	return perm, nil
}

// ModifySecurityGroupRules replaces rules of a group in place, keeping
// their IDs, directions and tags; all or nothing.
func (cp *ControlPlane) ModifySecurityGroupRules(ctx context.Context, c *Call, groupID string, updates []SecurityGroupRuleUpdate) error {
	if groupID == "" {
		return cloud.MissingParameter("GroupId")
	}
	if len(updates) == 0 {
		return cloud.MissingParameter("SecurityGroupRule")
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		g, err := resolveSecurityGroup(tx, c, groupID, "")
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, SecurityGroupARN(g)); err != nil {
			return err
		}
		rules := append([]cloud.SecurityGroupRule(nil), g.Rules...)
		for _, u := range updates {
			if u.RuleID == "" {
				return cloud.MissingParameter("SecurityGroupRuleId")
			}
			i := sgRuleIndex(g, u.RuleID)
			if i < 0 {
				return cloud.Errorf("InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist", u.RuleID)
			}
			old := rules[i]
			perm, err := updatePermission(u, old)
			if err != nil {
				return err
			}
			nr, err := cp.expandPermissions(tx, c, g, old.Egress, true, []IPPermission{perm})
			if err != nil {
				return err
			}
			nr[0].ID, nr[0].Tags = old.ID, old.Tags
			rules[i] = nr[0]
		}
		seen := map[string]bool{}
		for _, r := range rules {
			k := sgRuleKey(r)
			if seen[k] {
				return cloud.Errorf("InvalidPermission.Duplicate", "the specified rule \"%s\" already exists", sgRuleText(r))
			}
			seen[k] = true
		}
		ng := store.Clone(g)
		ng.Rules = rules
		tx.Put(cloud.KindSecurityGroup, ng.ID, ng)
		return nil
	})
}
