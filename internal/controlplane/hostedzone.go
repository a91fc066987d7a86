package controlplane

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/dns"
	"github.com/privlink/privlink/internal/store"
)

// Route 53 hosted zones (public only). Route 53 is global: a Call's Region
// is ignored and zones belong to the caller's account. Records are served
// by privlink's dns.Authority (see controllers.HostedZoneAuthority), which
// is how a provider proves it owns an endpoint service's private DNS name.

// Hosted-zone limits, as Route 53 enforces them.
const (
	maxCallerReference = 128
	maxZoneComment     = 256
	maxChanges         = 1000
	maxRecordValues    = 1000
	maxTXTString       = 255
	soaTTL             = 900
	nsTTL              = 172800
	// changeRetention is how long GetChange finds a change.
	changeRetention = 7 * 24 * time.Hour
)

// Change actions of ChangeResourceRecordSets.
const (
	ActionCreate = "CREATE"
	ActionUpsert = "UPSERT"
	ActionDelete = "DELETE"
)

// validRRTypes are the RRType enum values of the Route 53 model.
var validRRTypes = []string{"SOA", "A", "TXT", "NS", "CNAME", "MX", "NAPTR", "PTR", "SRV", "SPF", "AAAA", "CAA", "DS", "TLSA", "SSHFP", "SVCB", "HTTPS"}

func noSuchHostedZone(id string) *cloud.Error {
	return &cloud.Error{Code: "NoSuchHostedZone", Message: "No hosted zone found with ID: " + id, Status: 404}
}

func invalidInput(format string, args ...any) *cloud.Error {
	return &cloud.Error{Code: "InvalidInput", Message: fmt.Sprintf(format, args...), Status: 400}
}

// InvalidChangeBatch is the error of a change batch that cannot be applied;
// Route 53 reports every problem of the batch in one message.
func invalidChangeBatch(msgs []string) *cloud.Error {
	return &cloud.Error{Code: "InvalidChangeBatch", Message: "[" + strings.Join(msgs, ", ") + "]", Status: 400}
}

// HostedZoneARN is the IAM resource of a hosted zone.
func HostedZoneARN(id string) string { return "arn:aws:route53:::hostedzone/" + id }

// ChangeARN is the IAM resource of a change.
func ChangeARN(id string) string { return "arn:aws:route53:::change/" + id }

// newRoute53ID returns prefix and 20 random upper-case letters and digits,
// the shape of hosted zone (Z…) and change (C…) IDs.
func newRoute53ID(prefix string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return prefix + strings.ToUpper(cloud.RandomToken(20))
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + string(b)
}

// TrimZoneID accepts "Z…" and "/hostedzone/Z…".
func TrimZoneID(id string) string { return strings.TrimPrefix(id, "/hostedzone/") }

// TrimChangeID accepts "C…" and "/change/C…".
func TrimChangeID(id string) string { return strings.TrimPrefix(id, "/change/") }

// zoneNameServers picks the delegation set of a zone, four awsdns names
// as Route 53 assigns them, derived from the zone ID.
func zoneNameServers(id string) []string {
	h := sha256.Sum256([]byte(id))
	tlds := []string{"com", "net", "org", "co.uk"}
	out := make([]string, 4)
	for i, tld := range tlds {
		n := binary.BigEndian.Uint16(h[i*2:]) % 512
		out[i] = fmt.Sprintf("ns-%d.awsdns-%02d.%s.", int(n)+512*i, int(h[8+i])%64, tld)
	}
	return out
}

// zoneOwned fetches one of the caller's hosted zones, or nil.
func zoneOwned(tx *store.Tx, c *Call, id string) *cloud.HostedZone {
	z, ok := store.Get[cloud.HostedZone](tx, cloud.KindHostedZone, TrimZoneID(id))
	if !ok || z.OwnerID != c.Account() {
		return nil
	}
	return z
}

// CreateHostedZoneInput is CreateHostedZone's request.
type CreateHostedZoneInput struct {
	Name            string
	CallerReference string
	Comment         string
	PrivateZone     bool
	// VPC is set when the request names a VPC (a private hosted zone).
	VPC             bool
	DelegationSetID string
}

// canonicalZoneName checks a domain name as Route 53 does and returns it
// lower-case and fully qualified.
func canonicalZoneName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" || n == "." {
		return "", &cloud.Error{Code: "InvalidDomainName", Message: fmt.Sprintf("%s is not a valid domain name.", name), Status: 400}
	}
	c := dns.Canonical(n)
	if _, ok := mdns.IsDomainName(c); !ok || len(c) > 255 || strings.Contains(c, "*") {
		return "", &cloud.Error{Code: "InvalidDomainName", Message: fmt.Sprintf("%s is not a valid domain name.", name), Status: 400}
	}
	return c, nil
}

// CreateHostedZone creates a public hosted zone with its SOA and NS records.
// The caller reference makes the call idempotent: reusing one is
// HostedZoneAlreadyExists, as on Route 53.
func (cp *ControlPlane) CreateHostedZone(ctx context.Context, c *Call, in CreateHostedZoneInput) (*cloud.HostedZone, *cloud.Route53Change, error) {
	if in.VPC || in.PrivateZone {
		return nil, nil, invalidInput("privlink serves public hosted zones only: the private hosted zones of a VPC come from its interface endpoints' private DNS names, not from Route 53.")
	}
	if in.DelegationSetID != "" {
		return nil, nil, &cloud.Error{Code: "NoSuchDelegationSet", Message: "A reusable delegation set with the specified ID does not exist: " + in.DelegationSetID, Status: 400}
	}
	if in.Name == "" {
		return nil, nil, invalidInput("1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
	}
	if in.CallerReference == "" || len(in.CallerReference) > maxCallerReference {
		return nil, nil, invalidInput("1 validation error detected: Value '%s' at 'callerReference' failed to satisfy constraint: Member must have length between 1 and %d", in.CallerReference, maxCallerReference)
	}
	if len(in.Comment) > maxZoneComment {
		return nil, nil, invalidInput("1 validation error detected: Value at 'hostedZoneConfig.comment' failed to satisfy constraint: Member must have length less than or equal to %d", maxZoneComment)
	}
	name, err := canonicalZoneName(in.Name)
	if err != nil {
		return nil, nil, err
	}
	if !strings.Contains(strings.TrimSuffix(name, "."), ".") {
		return nil, nil, &cloud.Error{Code: "InvalidDomainName", Message: fmt.Sprintf("%s is reserved by AWS!", strings.TrimSuffix(name, ".")), Status: 400}
	}
	if err := cp.authorize(ctx, c, HostedZoneARN("*")); err != nil {
		return nil, nil, err
	}
	var zone *cloud.HostedZone
	var change *cloud.Route53Change
	err = cp.db.Update(ctx, func(tx *store.Tx) error {
		dup := false
		tx.Each(cloud.KindHostedZone, func(_ string, v any) bool {
			z := v.(*cloud.HostedZone)
			dup = z.OwnerID == c.Account() && z.CallerReference == in.CallerReference
			return !dup
		})
		if dup {
			return &cloud.Error{Code: "HostedZoneAlreadyExists", Message: "A hosted zone has already been created with the specified caller reference.", Status: 409}
		}
		id := newRoute53ID("Z")
		ns := zoneNameServers(id)
		zone = &cloud.HostedZone{
			Meta: cloud.Meta{ID: id, OwnerID: c.Account(), CreatedAt: cp.now().UTC()},
			Name: name, CallerReference: in.CallerReference, Comment: in.Comment, NameServers: ns, Serial: 1,
		}
		zone.RecordSets = []cloud.RecordSet{
			{Name: name, Type: cloud.RRTypeNS, TTL: nsTTL, Values: ns},
			soaRecordSet(zone),
		}
		tx.Put(cloud.KindHostedZone, id, zone)
		change = cp.recordChange(tx, c, id, "")
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return zone, change, nil
}

// soaRecordSet is the SOA Route 53 gives a zone, with the zone's serial.
func soaRecordSet(z *cloud.HostedZone) cloud.RecordSet {
	return cloud.RecordSet{Name: z.Name, Type: cloud.RRTypeSOA, TTL: soaTTL,
		Values: []string{fmt.Sprintf("%s awsdns-hostmaster.amazon.com. %d 7200 900 1209600 86400", z.NameServers[0], z.Serial)}}
}

// recordChange stores a submitted change and drops the caller's changes
// older than changeRetention.
func (cp *ControlPlane) recordChange(tx *store.Tx, c *Call, zoneID, comment string) *cloud.Route53Change {
	now := cp.now().UTC()
	var old []string
	tx.Each(cloud.KindRoute53Change, func(id string, v any) bool {
		ch := v.(*cloud.Route53Change)
		if ch.OwnerID == c.Account() && now.Sub(ch.CreatedAt) > changeRetention {
			old = append(old, id)
		}
		return true
	})
	for _, id := range old {
		tx.Delete(cloud.KindRoute53Change, id)
	}
	id := newRoute53ID("C")
	ch := &cloud.Route53Change{Meta: cloud.Meta{ID: id, OwnerID: c.Account(), CreatedAt: now}, ZoneID: zoneID, Comment: comment}
	tx.Put(cloud.KindRoute53Change, id, ch)
	return ch
}

// GetHostedZone returns one of the caller's zones.
func (cp *ControlPlane) GetHostedZone(ctx context.Context, c *Call, id string) (*cloud.HostedZone, error) {
	id = TrimZoneID(id)
	if err := cp.authorize(ctx, c, HostedZoneARN(id)); err != nil {
		return nil, err
	}
	var z *cloud.HostedZone
	cp.db.View(func(tx *store.Tx) error {
		z = zoneOwned(tx, c, id)
		return nil
	})
	if z == nil {
		return nil, noSuchHostedZone(id)
	}
	return z, nil
}

// ListHostedZones lists the caller's zones by ID; marker is the first ID of
// the page and maxItems at most 100 (0: 100).
func (cp *ControlPlane) ListHostedZones(ctx context.Context, c *Call, marker string, maxItems int) (zones []*cloud.HostedZone, next string, err error) {
	if maxItems < 0 {
		return nil, "", invalidInput("MaxItems must be a positive number.")
	}
	if maxItems == 0 || maxItems > 100 {
		maxItems = 100
	}
	if err := cp.authorize(ctx, c, HostedZoneARN("*")); err != nil {
		return nil, "", err
	}
	cp.db.View(func(tx *store.Tx) error {
		zones = store.List[cloud.HostedZone](tx, cloud.KindHostedZone, func(z *cloud.HostedZone) bool {
			return z.OwnerID == c.Account() && z.ID >= marker
		})
		return nil
	})
	if len(zones) > maxItems {
		next = zones[maxItems].ID
		zones = zones[:maxItems]
	}
	return zones, next, nil
}

// DeleteHostedZone deletes a zone that holds only its SOA and NS records.
func (cp *ControlPlane) DeleteHostedZone(ctx context.Context, c *Call, id string) (*cloud.Route53Change, error) {
	id = TrimZoneID(id)
	if err := cp.authorize(ctx, c, HostedZoneARN(id)); err != nil {
		return nil, err
	}
	var change *cloud.Route53Change
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		z := zoneOwned(tx, c, id)
		if z == nil {
			return noSuchHostedZone(id)
		}
		for _, rs := range z.RecordSets {
			if rs.Name != z.Name || (rs.Type != cloud.RRTypeSOA && rs.Type != cloud.RRTypeNS) {
				return &cloud.Error{Code: "HostedZoneNotEmpty", Message: "The specified hosted zone contains non-required resource record sets and so cannot be deleted.", Status: 400}
			}
		}
		tx.Delete(cloud.KindHostedZone, id)
		change = cp.recordChange(tx, c, id, "")
		return nil
	})
	return change, err
}

// GetChange reports one of the caller's changes. Every change is INSYNC
// when it returns: the Authority serves a zone as soon as it is stored.
func (cp *ControlPlane) GetChange(ctx context.Context, c *Call, id string) (*cloud.Route53Change, error) {
	id = TrimChangeID(id)
	if err := cp.authorize(ctx, c, ChangeARN(id)); err != nil {
		return nil, err
	}
	var ch *cloud.Route53Change
	cp.db.View(func(tx *store.Tx) error {
		if v, ok := store.Get[cloud.Route53Change](tx, cloud.KindRoute53Change, id); ok && v.OwnerID == c.Account() {
			ch = v
		}
		return nil
	})
	if ch == nil {
		return nil, &cloud.Error{Code: "NoSuchChange", Message: "A change with the specified change ID does not exist.", Status: 404}
	}
	return ch, nil
}

// RecordChange is one change of a ChangeResourceRecordSets batch.
type RecordChange struct {
	Action string
	Set    cloud.RecordSet
	// TTLSet tells whether the request had a TTL; Unsupported names a
	// routing feature the request used that privlink does not model.
	TTLSet      bool
	Unsupported string
}

// ChangeResourceRecordSets applies a change batch atomically: every change
// succeeds or none does (InvalidChangeBatch lists every problem).
func (cp *ControlPlane) ChangeResourceRecordSets(ctx context.Context, c *Call, zoneID, comment string, changes []RecordChange) (*cloud.Route53Change, error) {
	zoneID = TrimZoneID(zoneID)
	if len(changes) == 0 {
		return nil, invalidInput("1 validation error detected: Value '[]' at 'changeBatch.changes' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if len(changes) > maxChanges {
		return nil, invalidChangeBatch([]string{fmt.Sprintf("Number of records limit of %d exceeded.", maxChanges)})
	}
	if len(comment) > maxZoneComment {
		return nil, invalidInput("1 validation error detected: Value at 'changeBatch.comment' failed to satisfy constraint: Member must have length less than or equal to %d", maxZoneComment)
	}
	for i := range changes {
		if err := normalizeChange(&changes[i]); err != nil {
			return nil, err
		}
	}
	if err := cp.authorize(ctx, c, HostedZoneARN(zoneID)); err != nil {
		return nil, err
	}
	var change *cloud.Route53Change
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		old := zoneOwned(tx, c, zoneID)
		if old == nil {
			return noSuchHostedZone(zoneID)
		}
		sets, msgs := applyChanges(old, changes)
		if len(msgs) > 0 {
			return invalidChangeBatch(msgs)
		}
		z := store.Clone(old)
		z.Serial++
		z.RecordSets = sets
		for i, rs := range z.RecordSets {
			if rs.Type == cloud.RRTypeSOA && rs.Name == z.Name {
				z.RecordSets[i] = soaRecordSet(z)
			}
		}
		if _, err := BuildHostedZone(z); err != nil {
			return invalidChangeBatch([]string{err.Error()})
		}
		tx.Put(cloud.KindHostedZone, z.ID, z)
		change = cp.recordChange(tx, c, z.ID, comment)
		return nil
	})
	return change, err
}

// normalizeChange checks one change on its own and canonicalizes its name.
func normalizeChange(ch *RecordChange) error {
	rs := &ch.Set
	switch ch.Action {
	case ActionCreate, ActionUpsert, ActionDelete:
	case "":
		return invalidInput("1 validation error detected: Value null at 'changeBatch.changes.1.member.action' failed to satisfy constraint: Member must not be null")
	default:
		return invalidInput("1 validation error detected: Value '%s' at 'changeBatch.changes.1.member.action' failed to satisfy constraint: Member must satisfy enum value set: [CREATE, DELETE, UPSERT]", ch.Action)
	}
	if !contains1(validRRTypes, rs.Type) {
		return invalidInput("1 validation error detected: Value '%s' at 'changeBatch.changes.1.member.resourceRecordSet.type' failed to satisfy constraint: Member must satisfy enum value set: [%s]", rs.Type, strings.Join(validRRTypes, ", "))
	}
	// A wildcard's "*" (or \052) may be the first label only.
	raw := strings.ReplaceAll(rs.Name, `\052`, "*")
	wild := strings.HasPrefix(raw, "*.")
	name, err := canonicalZoneName(strings.TrimPrefix(raw, "*."))
	if err != nil {
		return invalidChangeBatch([]string{fmt.Sprintf("Invalid domain name: '%s'", rs.Name)})
	}
	if wild {
		name = "*." + name
	}
	rs.Name = name
	if ch.Unsupported != "" {
		return invalidInput("privlink's Route 53 supports simple routing only; %s is not supported.", ch.Unsupported)
	}
	if !ch.TTLSet || len(rs.Values) == 0 {
		return invalidInput("Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with [Action=%s, Name=%s, Type=%s, SetIdentifier=null]", ch.Action, rs.Name, rs.Type)
	}
	if rs.TTL < 0 || rs.TTL > 2147483647 {
		return invalidInput("1 validation error detected: Value '%d' at 'changeBatch.changes.1.member.resourceRecordSet.tTL' failed to satisfy constraint: Member must have value between 0 and 2147483647", rs.TTL)
	}
	switch rs.Type {
	case cloud.RRTypeA, cloud.RRTypeTXT, cloud.RRTypeCNAME:
	case cloud.RRTypeSOA, cloud.RRTypeNS:
		return invalidInput("privlink manages a zone's SOA and NS records itself; ChangeResourceRecordSets supports A, TXT and CNAME records.")
	default:
		return invalidInput("privlink's Route 53 supports A, TXT and CNAME records, not %s.", rs.Type)
	}
	if len(rs.Values) > maxRecordValues {
		return invalidChangeBatch([]string{fmt.Sprintf("Number of records limit of %d exceeded.", maxRecordValues)})
	}
	var msgs []string
	seen := map[string]bool{}
	for i, v := range rs.Values {
		canon, err := checkRData(rs.Type, v)
		if err != "" {
			msgs = append(msgs, err)
			continue
		}
		rs.Values[i] = canon
		if seen[canon] {
			msgs = append(msgs, fmt.Sprintf("Duplicate Resource Record: '%s'", v))
		}
		seen[canon] = true
	}
	if rs.Type == cloud.RRTypeCNAME && len(rs.Values) > 1 {
		msgs = append(msgs, fmt.Sprintf("RRSet of type CNAME with DNS name %s contains more than one resource record", rs.Name))
	}
	if len(msgs) > 0 {
		return invalidChangeBatch(msgs)
	}
	return nil
}

// checkRData validates one value of a record and returns its stored form,
// or Route 53's message for an invalid one.
func checkRData(typ, v string) (string, string) {
	bad := func(code, why string) (string, string) {
		return "", fmt.Sprintf("Invalid Resource Record: 'FATAL problem: %s (%s) encountered with '%s''", code, why, v)
	}
	switch typ {
	case cloud.RRTypeA:
		ip, err := netip.ParseAddr(strings.TrimSpace(v))
		if err != nil || !ip.Is4() {
			return bad("ARRDATAIllegalIPv4Address", "Value is not a valid IPv4 address")
		}
		return ip.String(), ""
	case cloud.RRTypeCNAME:
		t := strings.TrimSpace(v)
		if _, ok := mdns.IsDomainName(t); !ok || t == "" || t == "." {
			return bad("DomainLabelEmpty", "Domain label is empty")
		}
		return dns.Canonical(t), ""
	case cloud.RRTypeTXT:
		strs, msg := parseTXT(v)
		if msg != "" {
			return bad(msg, "Value should be enclosed in quotation marks")
		}
		for _, s := range strs {
			if len(s) > maxTXTString {
				return bad("TXTRDATATooLong", "Value is too long")
			}
		}
		return strings.TrimSpace(v), ""
	}
	return "", fmt.Sprintf("Unsupported record type %s", typ)
}

// parseTXT splits a Route 53 TXT value, one or more quoted strings with
// \" and \\ escapes separated by spaces, into its character-strings.
func parseTXT(v string) ([]string, string) {
	s := strings.TrimSpace(v)
	var out []string
	for len(s) > 0 {
		if s[0] != '"' {
			return nil, "InvalidCharacterString"
		}
		var b strings.Builder
		i, closed := 1, false
		for i < len(s) {
			ch := s[i]
			if ch == '\\' && i+1 < len(s) {
				b.WriteByte(s[i+1])
				i += 2
				continue
			}
			if ch == '"' {
				closed = true
				i++
				break
			}
			b.WriteByte(ch)
			i++
		}
		if !closed {
			return nil, "InvalidCharacterString"
		}
		out = append(out, b.String())
		s = s[i:]
		if len(s) > 0 && s[0] != ' ' && s[0] != '\t' {
			return nil, "InvalidCharacterString"
		}
		s = strings.TrimLeft(s, " \t")
	}
	if len(out) == 0 {
		return nil, "InvalidCharacterString"
	}
	return out, ""
}

func rrsetLabel(rs cloud.RecordSet) string {
	return fmt.Sprintf("[name='%s', type='%s']", rs.Name, rs.Type)
}

// applyChanges applies changes in order to a copy of the zone's record
// sets and returns the result and Route 53's message for every change that
// cannot be applied.
func applyChanges(z *cloud.HostedZone, changes []RecordChange) ([]cloud.RecordSet, []string) {
	sets := append([]cloud.RecordSet(nil), z.RecordSets...)
	find := func(name, typ string) int {
		for i, rs := range sets {
			if rs.Name == name && rs.Type == typ {
				return i
			}
		}
		return -1
	}
	var msgs []string
	for _, ch := range changes {
		rs := ch.Set
		rs.Values = append([]string(nil), rs.Values...)
		if rs.Name != z.Name && !strings.HasSuffix(rs.Name, "."+z.Name) {
			msgs = append(msgs, fmt.Sprintf("RRSet with DNS name %s is not permitted in zone %s", rs.Name, z.Name))
			continue
		}
		if rs.Type == cloud.RRTypeCNAME && rs.Name == z.Name {
			msgs = append(msgs, fmt.Sprintf("RRSet of type CNAME with DNS name %s is not permitted at apex in zone %s", rs.Name, z.Name))
			continue
		}
		i := find(rs.Name, rs.Type)
		switch ch.Action {
		case ActionDelete:
			switch {
			case i < 0:
				msgs = append(msgs, fmt.Sprintf("Tried to delete resource record set %s but it was not found", rrsetLabel(rs)))
			case sets[i].TTL != rs.TTL || !sameValues(sets[i].Values, rs.Values):
				msgs = append(msgs, fmt.Sprintf("Tried to delete resource record set %s but the values provided do not match the current values", rrsetLabel(rs)))
			default:
				sets = append(sets[:i], sets[i+1:]...)
			}
			continue
		case ActionCreate:
			if i >= 0 {
				msgs = append(msgs, fmt.Sprintf("Tried to create resource record set %s but it already exists", rrsetLabel(rs)))
				continue
			}
		}
		if msg := cnameConflict(sets, rs, z.Name); msg != "" {
			msgs = append(msgs, msg)
			continue
		}
		if i >= 0 {
			sets[i] = rs
		} else {
			sets = append(sets, rs)
		}
	}
	sortRecordSets(sets)
	return sets, msgs
}

// cnameConflict reports a CNAME beside other records of the same name.
func cnameConflict(sets []cloud.RecordSet, rs cloud.RecordSet, zone string) string {
	for _, o := range sets {
		if o.Name != rs.Name || o.Type == rs.Type {
			continue
		}
		if rs.Type == cloud.RRTypeCNAME {
			return fmt.Sprintf("RRSet of type CNAME with DNS name %s is not permitted as it conflicts with other records with the same DNS name in zone %s", rs.Name, zone)
		}
		if o.Type == cloud.RRTypeCNAME {
			return fmt.Sprintf("RRSet of type %s with DNS name %s is not permitted because a conflicting RRSet of type CNAME with the same DNS name already exists in zone %s", rs.Type, rs.Name, zone)
		}
	}
	return ""
}

func sameValues(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x := append([]string(nil), a...)
	y := append([]string(nil), b...)
	sort.Strings(x)
	sort.Strings(y)
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

// recordSortKey orders names as Route 53 lists them: by labels read from
// the right (com.example.www), then by type.
func recordSortKey(name string) string {
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
		labels[i], labels[j] = labels[j], labels[i]
	}
	return strings.Join(labels, ".")
}

func recordLess(an, at, bn, bt string) bool {
	ka, kb := recordSortKey(an), recordSortKey(bn)
	if ka != kb {
		return ka < kb
	}
	return at < bt
}

func sortRecordSets(sets []cloud.RecordSet) {
	sort.SliceStable(sets, func(i, j int) bool {
		return recordLess(sets[i].Name, sets[i].Type, sets[j].Name, sets[j].Type)
	})
}

// RecordSetPage is a page of ListResourceRecordSets.
type RecordSetPage struct {
	Sets               []cloud.RecordSet
	MaxItems           int
	Truncated          bool
	NextName, NextType string
}

// ListResourceRecordSets lists a zone's record sets from (startName,
// startType) on, at most maxItems (0: 300) of them.
func (cp *ControlPlane) ListResourceRecordSets(ctx context.Context, c *Call, zoneID, startName, startType string, maxItems int) (*RecordSetPage, error) {
	zoneID = TrimZoneID(zoneID)
	if startType != "" && startName == "" {
		return nil, invalidInput("The input is not valid: you must specify StartRecordName when you specify StartRecordType.")
	}
	if startType != "" && !contains1(validRRTypes, startType) {
		return nil, invalidInput("1 validation error detected: Value '%s' at 'startRecordType' failed to satisfy constraint: Member must satisfy enum value set: [%s]", startType, strings.Join(validRRTypes, ", "))
	}
	if maxItems < 0 {
		return nil, invalidInput("MaxItems must be a positive number.")
	}
	if maxItems == 0 || maxItems > 300 {
		maxItems = 300
	}
	z, err := cp.GetHostedZone(ctx, c, zoneID)
	if err != nil {
		return nil, err
	}
	start := ""
	if startName != "" {
		if start, err = canonicalZoneName(startName); err != nil {
			return nil, err
		}
	}
	page := &RecordSetPage{MaxItems: maxItems}
	for _, rs := range z.RecordSets {
		if start != "" && recordLess(rs.Name, rs.Type, start, startType) {
			continue
		}
		if len(page.Sets) == maxItems {
			page.Truncated, page.NextName, page.NextType = true, rs.Name, rs.Type
			break
		}
		page.Sets = append(page.Sets, rs)
	}
	return page, nil
}

// BuildHostedZone renders a stored hosted zone as the DNS zone the
// Authority serves.
func BuildHostedZone(z *cloud.HostedZone) (*dns.Zone, error) {
	b := dns.NewZoneBuilder(z.Name)
	for _, rs := range z.RecordSets {
		for _, v := range rs.Values {
			var rr mdns.RR
			hdr := mdns.RR_Header{Name: rs.Name, Class: mdns.ClassINET, Ttl: uint32(rs.TTL)}
			switch rs.Type {
			case cloud.RRTypeA:
				ip, err := netip.ParseAddr(v)
				if err != nil {
					return nil, fmt.Errorf("record %s A %q: %w", rs.Name, v, err)
				}
				hdr.Rrtype = mdns.TypeA
				rr = &mdns.A{Hdr: hdr, A: ip.AsSlice()}
			case cloud.RRTypeTXT:
				strs, msg := parseTXT(v)
				if msg != "" {
					return nil, fmt.Errorf("record %s TXT %q: %s", rs.Name, v, msg)
				}
				hdr.Rrtype = mdns.TypeTXT
				rr = &mdns.TXT{Hdr: hdr, Txt: strs}
			case cloud.RRTypeCNAME:
				hdr.Rrtype = mdns.TypeCNAME
				rr = &mdns.CNAME{Hdr: hdr, Target: dns.Canonical(v)}
			case cloud.RRTypeNS:
				hdr.Rrtype = mdns.TypeNS
				rr = &mdns.NS{Hdr: hdr, Ns: dns.Canonical(v)}
			case cloud.RRTypeSOA:
				parsed, err := mdns.NewRR(fmt.Sprintf("%s %d IN SOA %s", rs.Name, rs.TTL, v))
				if err != nil {
					return nil, fmt.Errorf("record %s SOA: %w", rs.Name, err)
				}
				rr = parsed
			default:
				return nil, fmt.Errorf("record %s: unsupported type %s", rs.Name, rs.Type)
			}
			if err := b.AddRR(rr); err != nil {
				return nil, err
			}
		}
	}
	return b.Build()
}
