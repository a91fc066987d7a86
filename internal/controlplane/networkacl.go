package controlplane

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// ACL rule numbers: users own 1–32766; 32767 is the * rule, which AWS
// keeps last in each direction and never lets anyone change.
const (
	maxUserACLRule      = 32766
	starACLRule         = 32767
	maxACLEntriesPerWay = 20 // AWS's default quota of rules per direction
)

// NetworkACLARN is the ARN of a network ACL.
func NetworkACLARN(region, account, id string) string {
	return cloud.EC2ARN(region, account, "network-acl", id)
}

// CreateNetworkAclInput is CreateNetworkAcl's parameters.
type CreateNetworkAclInput struct {
	VpcID       string
	Tags        []TagSpec
	ClientToken string
}

// CreateNetworkAcl creates a custom ACL that denies everything until rules
// are added, as AWS does.
func (cp *ControlPlane) CreateNetworkAcl(ctx context.Context, c *Call, in CreateNetworkAclInput) (*cloud.NetworkAcl, error) {
	if in.VpcID == "" {
		return nil, cloud.MissingParameter("VpcId")
	}
	if _, err := cp.region(c); err != nil {
		return nil, err
	}
	tags, err := tagsFor(in.Tags, "network-acl")
	if err != nil {
		return nil, err
	}
	var acl *cloud.NetworkAcl
	err = cp.db.Update(ctx, func(tx *store.Tx) error {
		if id, err := idempotent(tx, c, in.ClientToken, in); err != nil || id != "" {
			if err == nil {
				acl, _ = store.Get[cloud.NetworkAcl](tx, cloud.KindNetworkAcl, id)
			}
			return err
		}
		if getOwned[cloud.Vpc](tx, c, cloud.KindVpc, in.VpcID) == nil {
			return cloud.NotFound("InvalidVpcID.NotFound", "vpc ID", in.VpcID)
		}
		if err := cp.authorize(ctx, c, NetworkACLARN(c.Region, c.Account(), "*")); err != nil {
			return err
		}
		acl = &cloud.NetworkAcl{
			Meta:    cp.newMeta(c, cloud.NewID("acl"), tags),
			VpcID:   in.VpcID,
			Entries: defaultACLEntries(false),
		}
		tx.Put(cloud.KindNetworkAcl, acl.ID, acl)
		cp.rememberToken(tx, c, in.ClientToken, in, acl.ID)
		return nil
	})
	return acl, err
}

func aclNotFound(id string) error {
	return cloud.Errorf("InvalidNetworkAclID.NotFound", "The networkAcl ID '%s' does not exist", id)
}

// DeleteNetworkAcl deletes a custom ACL that no subnet uses.
func (cp *ControlPlane) DeleteNetworkAcl(ctx context.Context, c *Call, aclID string) error {
	if aclID == "" {
		return cloud.MissingParameter("NetworkAclId")
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		acl := getOwned[cloud.NetworkAcl](tx, c, cloud.KindNetworkAcl, aclID)
		if acl == nil {
			return aclNotFound(aclID)
		}
		if err := cp.authorize(ctx, c, NetworkACLARN(c.Region, c.Account(), aclID)); err != nil {
			return err
		}
		if acl.IsDefault {
			return cloud.Errorf("InvalidParameterValue", "cannot delete default network ACL %s", aclID)
		}
		if len(acl.Associations) > 0 {
			return cloud.Errorf("DependencyViolation", "The network ACL '%s' has dependencies and cannot be deleted.", aclID)
		}
		tx.Delete(cloud.KindNetworkAcl, aclID)
		return nil
	})
}

// NetworkAclEntryInput is Create/ReplaceNetworkAclEntry's parameters.
type NetworkAclEntryInput struct {
	NetworkAclID  string
	RuleNumber    *int
	Protocol      string
	RuleAction    string
	Egress        bool
	CidrBlock     string
	Ipv6CidrBlock string
	PortFrom      *int
	PortTo        *int
	IcmpType      *int
	IcmpCode      *int
}

// aclProtocols maps the protocol names AWS accepts in ACL entries to numbers.
var aclProtocols = map[string]string{"all": "-1", "-1": "-1", "tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58"}

// normalizeACLProtocol returns "-1" or the protocol's decimal number.
func normalizeACLProtocol(p string) (string, error) {
	lp := strings.ToLower(strings.TrimSpace(p))
	if lp == "" {
		return "", cloud.MissingParameter("protocol")
	}
	if n, ok := aclProtocols[lp]; ok {
		return n, nil
	}
	n, err := strconv.Atoi(lp)
	if err != nil || n < 0 || n > 255 {
		return "", cloud.Errorf("InvalidParameterValue", "Invalid value '%s' for protocol. Must be -1, a protocol number between 0 and 255, or tcp, udp, icmp or icmpv6.", p)
	}
	return strconv.Itoa(n), nil
}

// checkUserRuleNumber enforces the 1–32766 range users may write.
func checkUserRuleNumber(n *int) error {
	if n == nil {
		return cloud.MissingParameter("ruleNumber")
	}
	if *n < 1 || *n > maxUserACLRule {
		return cloud.Errorf("InvalidParameterValue", "Value (%d) for parameter ruleNumber is invalid. Rule numbers must be between 1 and %d.", *n, maxUserACLRule)
	}
	return nil
}

// buildACLEntry validates an entry input and returns its stored form.
func buildACLEntry(in NetworkAclEntryInput) (cloud.NetworkAclEntry, error) {
	var e cloud.NetworkAclEntry
	if err := checkUserRuleNumber(in.RuleNumber); err != nil {
		return e, err
	}
	proto, err := normalizeACLProtocol(in.Protocol)
	if err != nil {
		return e, err
	}
	action := strings.ToLower(in.RuleAction)
	switch action {
	case "allow", "deny":
	case "":
		return e, cloud.MissingParameter("ruleAction")
	default:
		return e, cloud.Errorf("InvalidParameterValue", "Value (%s) for parameter ruleAction is invalid. Must be allow or deny.", in.RuleAction)
	}
	e = cloud.NetworkAclEntry{RuleNumber: *in.RuleNumber, Egress: in.Egress, Protocol: proto, RuleAction: action}
	switch {
	case in.CidrBlock != "" && in.Ipv6CidrBlock != "":
		return e, cloud.Errorf("InvalidParameterCombination", "Only one of cidrBlock and ipv6CidrBlock may be specified.")
	case in.CidrBlock != "":
		p, ok := parseIPv4Prefix(in.CidrBlock)
		if !ok {
			return e, cloud.Errorf("InvalidParameterValue", "Value (%s) for parameter cidrBlock is invalid. This is not a valid CIDR block.", in.CidrBlock)
		}
		e.CidrBlock = p.String()
	case in.Ipv6CidrBlock != "":
		c, err := canonicalRuleCIDR(in.Ipv6CidrBlock, true)
		if err != nil {
			return e, cloud.Errorf("InvalidParameterValue", "Value (%s) for parameter ipv6CidrBlock is invalid. This is not a valid IPv6 CIDR block.", in.Ipv6CidrBlock)
		}
		e.Ipv6Cidr = c
	default:
		return e, cloud.Errorf("MissingParameter", "Either 'cidrBlock' or 'ipv6CidrBlock' should be provided.")
	}
	switch proto {
	case "6", "17":
		if in.PortFrom == nil || in.PortTo == nil {
			return e, cloud.MissingParameter("portRange")
		}
		from, to := *in.PortFrom, *in.PortTo
		if from < 0 || from > 65535 || to < 0 || to > 65535 || from > to {
			return e, cloud.Errorf("InvalidParameterValue", "Invalid value '%d-%d' for portRange. Ports must be between 0 and 65535, from not above to.", from, to)
		}
		e.FromPort, e.ToPort = &from, &to
	case "1", "58":
		if in.IcmpType == nil || in.IcmpCode == nil {
			return e, cloud.MissingParameter("icmpTypeCode")
		}
		typ, code := *in.IcmpType, *in.IcmpCode
		if typ < -1 || typ > 255 || code < -1 || code > 255 {
			return e, cloud.Errorf("InvalidParameterValue", "Invalid value '%d:%d' for icmpTypeCode. Type and code must be between -1 and 255.", typ, code)
		}
		e.IcmpType, e.IcmpCode = &typ, &code
	}
	return e, nil
}

func aclEntryIndex(acl *cloud.NetworkAcl, n int, egress bool) int {
	for i, e := range acl.Entries {
		if e.RuleNumber == n && e.Egress == egress {
			return i
		}
	}
	return -1
}

func aclEntryNotFound(n int) error {
	return cloud.Errorf("InvalidNetworkAclEntry.NotFound", "The network acl entry identified by %d could not be found.", n)
}

// CreateNetworkAclEntry adds a numbered rule; the number must be free in
// its direction.
func (cp *ControlPlane) CreateNetworkAclEntry(ctx context.Context, c *Call, in NetworkAclEntryInput) error {
	return cp.writeACLEntry(ctx, c, in, false)
}

// ReplaceNetworkAclEntry overwrites an existing numbered rule.
func (cp *ControlPlane) ReplaceNetworkAclEntry(ctx context.Context, c *Call, in NetworkAclEntryInput) error {
	return cp.writeACLEntry(ctx, c, in, true)
}

func (cp *ControlPlane) writeACLEntry(ctx context.Context, c *Call, in NetworkAclEntryInput, replace bool) error {
	if in.NetworkAclID == "" {
		return cloud.MissingParameter("NetworkAclId")
	}
	entry, err := buildACLEntry(in)
	if err != nil {
		return err
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		acl := getOwned[cloud.NetworkAcl](tx, c, cloud.KindNetworkAcl, in.NetworkAclID)
		if acl == nil {
			return aclNotFound(in.NetworkAclID)
		}
		if err := cp.authorize(ctx, c, NetworkACLARN(c.Region, c.Account(), acl.ID)); err != nil {
			return err
		}
		entries := append([]cloud.NetworkAclEntry(nil), acl.Entries...)
		i := aclEntryIndex(acl, entry.RuleNumber, entry.Egress)
		switch {
		case replace && i < 0:
			return aclEntryNotFound(entry.RuleNumber)
		case replace:
			entries[i] = entry
		case i >= 0:
			return cloud.Errorf("NetworkAclEntryAlreadyExists", "The network acl entry identified by %d already exists.", entry.RuleNumber)
		default:
			n := 0
			for _, e := range entries {
				if e.Egress == entry.Egress && e.RuleNumber != starACLRule {
					n++
				}
			}
			if n >= maxACLEntriesPerWay {
				return cloud.Errorf("NetworkAclEntryLimitExceeded", "The maximum number of network ACL entries has been reached.")
			}
			entries = append(entries, entry)
		}
		sortACLEntries(entries)
		na := store.Clone(acl)
		na.Entries = entries
		tx.Put(cloud.KindNetworkAcl, na.ID, na)
		return nil
	})
}

// DeleteNetworkAclEntry removes a numbered rule.
func (cp *ControlPlane) DeleteNetworkAclEntry(ctx context.Context, c *Call, aclID string, ruleNumber *int, egress bool) error {
	if aclID == "" {
		return cloud.MissingParameter("NetworkAclId")
	}
	if err := checkUserRuleNumber(ruleNumber); err != nil {
		return err
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		acl := getOwned[cloud.NetworkAcl](tx, c, cloud.KindNetworkAcl, aclID)
		if acl == nil {
			return aclNotFound(aclID)
		}
		if err := cp.authorize(ctx, c, NetworkACLARN(c.Region, c.Account(), acl.ID)); err != nil {
			return err
		}
		i := aclEntryIndex(acl, *ruleNumber, egress)
		if i < 0 {
			return aclEntryNotFound(*ruleNumber)
		}
		na := store.Clone(acl)
		na.Entries = append(append([]cloud.NetworkAclEntry(nil), acl.Entries[:i]...), acl.Entries[i+1:]...)
		tx.Put(cloud.KindNetworkAcl, na.ID, na)
		return nil
	})
}

// sortACLEntries orders entries as DescribeNetworkAcls lists them: egress
// rules first, then ingress, each by rule number.
func sortACLEntries(entries []cloud.NetworkAclEntry) {
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].Egress != entries[j].Egress {
			return entries[i].Egress
		}
		return entries[i].RuleNumber < entries[j].RuleNumber
	})
}

// OrderedACLEntries returns the ACL's entries in AWS's listing order.
func OrderedACLEntries(acl *cloud.NetworkAcl) []cloud.NetworkAclEntry {
	out := append([]cloud.NetworkAclEntry(nil), acl.Entries...)
	sortACLEntries(out)
	return out
}

// EffectiveACLEntries returns one direction's rules in evaluation order:
// lowest number first, the * rule (32767) last. The first rule that
// matches a packet decides it.
func EffectiveACLEntries(acl *cloud.NetworkAcl, egress bool) []cloud.NetworkAclEntry {
	var out []cloud.NetworkAclEntry
	for _, e := range acl.Entries {
		if e.Egress == egress {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].RuleNumber < out[j].RuleNumber })
	return out
}

var aclFilters = filterer[cloud.NetworkAcl]{
	tags: func(a *cloud.NetworkAcl) cloud.Tags { return a.Tags },
	fields: fields[cloud.NetworkAcl]{
		"association.association-id": func(a *cloud.NetworkAcl) []string {
			return aclAssocField(a, func(x cloud.NetworkAclAssociation) string { return x.ID })
		},
		"association.network-acl-id": func(a *cloud.NetworkAcl) []string {
			return aclAssocField(a, func(cloud.NetworkAclAssociation) string { return a.ID })
		},
		"association.subnet-id": func(a *cloud.NetworkAcl) []string {
			return aclAssocField(a, func(x cloud.NetworkAclAssociation) string { return x.SubnetID })
		},
		"default":        func(a *cloud.NetworkAcl) []string { return boolStr(a.IsDefault) },
		"network-acl-id": func(a *cloud.NetworkAcl) []string { return one(a.ID) },
		"owner-id":       func(a *cloud.NetworkAcl) []string { return one(a.OwnerID) },
		"vpc-id":         func(a *cloud.NetworkAcl) []string { return one(a.VpcID) },
		"entry.cidr":     aclEntryField(func(e cloud.NetworkAclEntry) string { return e.CidrBlock }),
		"entry.ipv6-cidr": aclEntryField(func(e cloud.NetworkAclEntry) string {
			return e.Ipv6Cidr
		}),
		"entry.egress":      aclEntryField(func(e cloud.NetworkAclEntry) string { return strconv.FormatBool(e.Egress) }),
		"entry.protocol":    aclEntryField(func(e cloud.NetworkAclEntry) string { return e.Protocol }),
		"entry.rule-action": aclEntryField(func(e cloud.NetworkAclEntry) string { return e.RuleAction }),
		"entry.rule-number": aclEntryField(func(e cloud.NetworkAclEntry) string { return strconv.Itoa(e.RuleNumber) }),
		"entry.port-range.from": aclEntryField(func(e cloud.NetworkAclEntry) string {
			return aclOptInt(e.FromPort)
		}),
		"entry.port-range.to": aclEntryField(func(e cloud.NetworkAclEntry) string { return aclOptInt(e.ToPort) }),
		"entry.icmp.type":     aclEntryField(func(e cloud.NetworkAclEntry) string { return aclOptInt(e.IcmpType) }),
		"entry.icmp.code":     aclEntryField(func(e cloud.NetworkAclEntry) string { return aclOptInt(e.IcmpCode) }),
	},
}

func aclAssocField(a *cloud.NetworkAcl, get func(cloud.NetworkAclAssociation) string) []string {
	var out []string
	for _, x := range a.Associations {
		out = append(out, get(x))
	}
	return out
}

func aclEntryField(get func(cloud.NetworkAclEntry) string) func(*cloud.NetworkAcl) []string {
	return func(a *cloud.NetworkAcl) []string {
		var out []string
		for _, e := range a.Entries {
			if v := get(e); v != "" {
				out = append(out, v)
			}
		}
		return out
	}
}

func aclOptInt(p *int) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(*p)
}

// DescribeNetworkAcls lists the caller's network ACLs.
func (cp *ControlPlane) DescribeNetworkAcls(ctx context.Context, c *Call, in DescribeInput) ([]*cloud.NetworkAcl, string, error) {
	return describe(ctx, cp, c, in, cloud.KindNetworkAcl, aclFilters, "InvalidNetworkAclID.NotFound", "networkAcl ID", func(a *cloud.NetworkAcl) string { return a.ID })
}

// ReplaceNetworkAclAssociation moves a subnet's association to another ACL
// of the same VPC and returns the new association's ID.
func (cp *ControlPlane) ReplaceNetworkAclAssociation(ctx context.Context, c *Call, assocID, aclID string) (string, error) {
	if assocID == "" {
		return "", cloud.MissingParameter("AssociationId")
	}
	if aclID == "" {
		return "", cloud.MissingParameter("NetworkAclId")
	}
	var newID string
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		var from *cloud.NetworkAcl
		var assoc cloud.NetworkAclAssociation
		for _, a := range listOwned[cloud.NetworkAcl](tx, c, cloud.KindNetworkAcl, nil) {
			for _, x := range a.Associations {
				if x.ID == assocID {
					from, assoc = a, x
				}
			}
		}
		if from == nil {
			return cloud.Errorf("InvalidAssociationID.NotFound", "The association ID '%s' does not exist", assocID)
		}
		to := getOwned[cloud.NetworkAcl](tx, c, cloud.KindNetworkAcl, aclID)
		if to == nil {
			return aclNotFound(aclID)
		}
		if err := cp.authorize(ctx, c, NetworkACLARN(c.Region, c.Account(), aclID)); err != nil {
			return err
		}
		if to.VpcID != from.VpcID {
			return cloud.Errorf("InvalidParameterValue", "Network ACL %s and subnet %s belong to different networks", aclID, assoc.SubnetID)
		}
		newID = cloud.NewID("aclassoc")
		nf := store.Clone(from)
		nf.Associations = nil
		for _, x := range from.Associations {
			if x.ID != assocID {
				nf.Associations = append(nf.Associations, x)
			}
		}
		tx.Put(cloud.KindNetworkAcl, nf.ID, nf)
		// Re-read the target: when it is the same ACL, nf is its latest form.
		base := to
		if to.ID == from.ID {
			base = nf
		}
		nt := store.Clone(base)
		nt.Associations = append(append([]cloud.NetworkAclAssociation(nil), base.Associations...), cloud.NetworkAclAssociation{ID: newID, SubnetID: assoc.SubnetID})
		tx.Put(cloud.KindNetworkAcl, nt.ID, nt)
		return nil
	})
	return newID, err
}
