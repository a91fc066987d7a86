package controlplane

import (
	"context"
	"net/netip"
	"sort"
	"strings"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// awsOwner is the owner ID AWS shows for its managed prefix lists.
const awsOwner = "AWS"

// gatewayServices are the services with an AWS-managed prefix list.
var gatewayServices = []string{"s3", "dynamodb"}

// awsManagedPrefixLists computes the region's AWS-managed prefix lists from
// the catalog; they are never stored, so their IDs and entries are the same
// on every start.
func awsManagedPrefixLists(region string) []*cloud.ManagedPrefixList {
	var out []*cloud.ManagedPrefixList
	for _, svc := range gatewayServices {
		cidrs := cloud.ServicePrefixCIDRs(region, svc)
		if len(cidrs) == 0 {
			continue
		}
		name := cloud.AWSServiceName(region, svc)
		pl := &cloud.ManagedPrefixList{
			Meta:          cloud.Meta{ID: cloud.AWSPrefixListID(name), OwnerID: awsOwner, Region: region},
			Name:          name,
			AddressFamily: "IPv4",
			MaxEntries:    len(cidrs),
			Version:       1,
			State:         "create-complete",
		}
		for _, p := range cidrs {
			pl.Entries = append(pl.Entries, cloud.PrefixListEntry{Cidr: p.String()})
		}
		out = append(out, pl)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func awsManagedPrefixList(region, id string) *cloud.ManagedPrefixList {
	for _, pl := range awsManagedPrefixLists(region) {
		if pl.ID == id {
			return pl
		}
	}
	return nil
}

// isAWSManaged reports whether a prefix list is one of AWS's.
func isAWSManaged(pl *cloud.ManagedPrefixList) bool { return pl.OwnerID == awsOwner }

// PrefixListARN is a prefix list's ARN (account "aws" for AWS-managed lists).
func PrefixListARN(pl *cloud.ManagedPrefixList) string {
	account := pl.OwnerID
	if isAWSManaged(pl) {
		account = "aws"
	}
	return cloud.EC2ARN(pl.Region, account, "prefix-list", pl.ID)
}

// lookupPrefixList returns a list the caller can use: an AWS-managed list of
// the call's region or one of the caller's own.
func lookupPrefixList(tx *store.Tx, c *Call, id string) *cloud.ManagedPrefixList {
	if pl := awsManagedPrefixList(c.Region, id); pl != nil {
		return pl
	}
	return getOwned[cloud.ManagedPrefixList](tx, c, cloud.KindPrefixList, id)
}

// prefixListCIDRsFor resolves a list the caller can use to its CIDRs.
func prefixListCIDRsFor(tx *store.Tx, c *Call, id string) ([]netip.Prefix, bool) {
	pl := lookupPrefixList(tx, c, id)
	if pl == nil {
		return nil, false
	}
	return entryPrefixes(pl.Entries), true
}

// prefixListCIDRs resolves any prefix list of a region (AWS-managed or any
// account's) to its current CIDRs, for the data plane and security groups.
func prefixListCIDRs(tx *store.Tx, region, id string) ([]netip.Prefix, bool) {
	if pl := awsManagedPrefixList(region, id); pl != nil {
		return entryPrefixes(pl.Entries), true
	}
	pl, ok := store.Get[cloud.ManagedPrefixList](tx, cloud.KindPrefixList, id)
	if !ok || pl.Region != region {
		return nil, false
	}
	return entryPrefixes(pl.Entries), true
}

// PrefixListCIDRs is prefixListCIDRs for other packages (the data plane).
func PrefixListCIDRs(tx *store.Tx, region, id string) ([]netip.Prefix, bool) {
	return prefixListCIDRs(tx, region, id)
}

func entryPrefixes(entries []cloud.PrefixListEntry) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(entries))
	for _, e := range entries {
		if p, err := netip.ParsePrefix(e.Cidr); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

func prefixListNotFound(id string) error {
	return cloud.Errorf("InvalidPrefixListID.NotFound", "The prefix list ID '%s' does not exist.", id)
}

// maxEntryChanges is AWS's limit of entries added or removed per request.
const maxEntryChanges = 100

func validatePrefixListName(name string) error {
	switch {
	case name == "":
		return cloud.MissingParameter("PrefixListName")
	case len(name) > 255:
		return cloud.InvalidParameterValue("PrefixListName", name, "The name must be at most 255 characters.")
	case strings.HasPrefix(strings.ToLower(name), "com.amazonaws"):
		return cloud.InvalidParameterValue("PrefixListName", name, "The name cannot start with com.amazonaws.")
	}
	return nil
}

func validateMaxEntries(n int) error {
	if n < 1 || n > 1000 {
		return cloud.Errorf("InvalidParameterValue", "Value (%d) for parameter maxEntries is invalid. It must be between 1 and 1000.", n)
	}
	return nil
}

// canonicalEntry validates an entry's CIDR for the list's address family.
func canonicalEntry(e cloud.PrefixListEntry, family string) (cloud.PrefixListEntry, error) {
	if e.Cidr == "" {
		return e, cloud.MissingParameter("Entry.Cidr")
	}
	p, err := netip.ParsePrefix(e.Cidr)
	if err != nil {
		return e, cloud.Errorf("InvalidParameterValue", "Value (%s) for parameter cidr is invalid. This is not a valid CIDR block.", e.Cidr)
	}
	if p.Addr().Is4() != (family == "IPv4") || p.Addr().Is4In6() {
		return e, cloud.Errorf("InvalidParameterValue", "The CIDR %s does not match the address family %s of the prefix list.", e.Cidr, family)
	}
	if len(e.Description) > 255 {
		return e, cloud.InvalidParameterValue("Description", e.Description, "The description must be at most 255 characters.")
	}
	e.Cidr = p.Masked().String()
	return e, nil
}

// CreateManagedPrefixListInput is CreateManagedPrefixList's parameters.
type CreateManagedPrefixListInput struct {
	Name          string
	MaxEntries    *int
	AddressFamily string
	Entries       []cloud.PrefixListEntry
	Tags          []TagSpec
	ClientToken   string
}

// CreateManagedPrefixList creates a customer-managed prefix list at version 1.
func (cp *ControlPlane) CreateManagedPrefixList(ctx context.Context, c *Call, in CreateManagedPrefixListInput) (*cloud.ManagedPrefixList, error) {
	if err := validatePrefixListName(in.Name); err != nil {
		return nil, err
	}
	if in.MaxEntries == nil {
		return nil, cloud.MissingParameter("MaxEntries")
	}
	if err := validateMaxEntries(*in.MaxEntries); err != nil {
		return nil, err
	}
	switch in.AddressFamily {
	case "":
		return nil, cloud.MissingParameter("AddressFamily")
	case "IPv4", "IPv6":
	default:
		return nil, cloud.InvalidParameterValue("AddressFamily", in.AddressFamily, "Valid values are IPv4 and IPv6.")
	}
	if len(in.Entries) > maxEntryChanges {
		return nil, cloud.Errorf("InvalidParameterValue", "The request cannot contain more than %d entry additions or removals.", maxEntryChanges)
	}
	entries := make([]cloud.PrefixListEntry, 0, len(in.Entries))
	seen := map[string]bool{}
	for _, e := range in.Entries {
		ce, err := canonicalEntry(e, in.AddressFamily)
		if err != nil {
			return nil, err
		}
		if seen[ce.Cidr] {
			return nil, cloud.Errorf("InvalidParameterValue", "The CIDR %s is specified more than once.", ce.Cidr)
		}
		seen[ce.Cidr] = true
		entries = append(entries, ce)
	}
	if len(entries) > *in.MaxEntries {
		return nil, cloud.Errorf("PrefixListMaxEntriesExceeded", "The number of entries (%d) exceeds the maximum number of entries (%d) of the prefix list.", len(entries), *in.MaxEntries)
	}
	if _, err := cp.region(c); err != nil {
		return nil, err
	}
	tags, err := tagsFor(in.Tags, "prefix-list")
	if err != nil {
		return nil, err
	}
	if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "prefix-list", "*")); err != nil {
		return nil, err
	}
	var pl *cloud.ManagedPrefixList
	err = cp.db.Update(ctx, func(tx *store.Tx) error {
		if id, err := idempotent(tx, c, in.ClientToken, in); err != nil || id != "" {
			if err == nil {
				// The token's resource may have been deleted since.
				var ok bool
				if pl, ok = store.Get[cloud.ManagedPrefixList](tx, cloud.KindPrefixList, id); !ok {
					return prefixListNotFound(id)
				}
			}
			return err
		}
		pl = &cloud.ManagedPrefixList{
			Meta:          cp.newMeta(c, cloud.NewID("pl"), tags),
			Name:          in.Name,
			AddressFamily: in.AddressFamily,
			MaxEntries:    *in.MaxEntries,
			Version:       1,
			State:         "create-complete",
			Entries:       entries,
		}
		tx.Put(cloud.KindPrefixList, pl.ID, pl)
		cp.rememberToken(tx, c, in.ClientToken, in, pl.ID)
		return nil
	})
	return pl, err
}

// ownedCustomerList fetches a customer-managed list of the caller's for a
// change; AWS-managed lists cannot be changed by anyone.
func (cp *ControlPlane) ownedCustomerList(tx *store.Tx, c *Call, id string) (*cloud.ManagedPrefixList, error) {
	if id == "" {
		return nil, cloud.MissingParameter("PrefixListId")
	}
	if awsManagedPrefixList(c.Region, id) != nil {
		return nil, &cloud.Error{Code: "UnauthorizedOperation", Message: "The prefix list " + id + " is an AWS-managed prefix list; it cannot be modified or deleted.", Status: 403}
	}
	pl := getOwned[cloud.ManagedPrefixList](tx, c, cloud.KindPrefixList, id)
	if pl == nil {
		return nil, prefixListNotFound(id)
	}
	return pl, nil
}

// ModifyManagedPrefixListInput is ModifyManagedPrefixList's parameters.
type ModifyManagedPrefixListInput struct {
	PrefixListID   string
	CurrentVersion *int
	Name           string
	MaxEntries     *int
	AddEntries     []cloud.PrefixListEntry
	RemoveEntries  []string
}

// ModifyManagedPrefixList renames a list, resizes it, or changes its entries.
// An entry change makes a new version; the old entries stay in History.
func (cp *ControlPlane) ModifyManagedPrefixList(ctx context.Context, c *Call, in ModifyManagedPrefixListInput) (*cloud.ManagedPrefixList, error) {
	changesEntries := len(in.AddEntries) > 0 || len(in.RemoveEntries) > 0
	if in.MaxEntries != nil && changesEntries {
		return nil, cloud.Errorf("InvalidParameterCombination", "You cannot modify the entries of a prefix list and modify the size of a prefix list at the same time.")
	}
	if len(in.AddEntries)+len(in.RemoveEntries) > maxEntryChanges {
		return nil, cloud.Errorf("InvalidParameterValue", "The request cannot contain more than %d entry additions or removals.", maxEntryChanges)
	}
	if in.Name != "" {
		if err := validatePrefixListName(in.Name); err != nil {
			return nil, err
		}
	}
	if in.MaxEntries != nil {
		if err := validateMaxEntries(*in.MaxEntries); err != nil {
			return nil, err
		}
	}
	var out *cloud.ManagedPrefixList
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		pl, err := cp.ownedCustomerList(tx, c, in.PrefixListID)
		if err != nil {
			return err
		}
		if in.CurrentVersion != nil && *in.CurrentVersion != pl.Version {
			return cloud.Errorf("PrefixListVersionMismatch", "The prefix list has the incorrect version number.")
		}
		n := store.Clone(pl)
		if in.Name != "" {
			n.Name = in.Name
		}
		if in.MaxEntries != nil {
			if *in.MaxEntries < len(pl.Entries) {
				return cloud.Errorf("InvalidParameterValue", "The maximum number of entries (%d) cannot be less than the number of entries (%d) in the prefix list.", *in.MaxEntries, len(pl.Entries))
			}
			n.MaxEntries = *in.MaxEntries
		}
		if changesEntries {
			entries, err := applyEntryChanges(pl, in.AddEntries, in.RemoveEntries)
			if err != nil {
				return err
			}
			n.History = append(append([]cloud.PrefixListVersion(nil), pl.History...), cloud.PrefixListVersion{Version: pl.Version, Entries: pl.Entries})
			n.Entries = entries
			n.Version = pl.Version + 1
		}
		if err := cp.authorize(ctx, c, PrefixListARN(pl)); err != nil {
			return err
		}
		n.State = "modify-complete"
		tx.Put(cloud.KindPrefixList, n.ID, n)
		out = n
		return nil
	})
	return out, err
}

// applyEntryChanges removes, then adds entries, as AWS applies them.
func applyEntryChanges(pl *cloud.ManagedPrefixList, add []cloud.PrefixListEntry, remove []string) ([]cloud.PrefixListEntry, error) {
	entries := append([]cloud.PrefixListEntry(nil), pl.Entries...)
	for _, cidr := range remove {
		ce, err := canonicalEntry(cloud.PrefixListEntry{Cidr: cidr}, pl.AddressFamily)
		if err != nil {
			return nil, err
		}
		i := plEntryIndex(entries, ce.Cidr)
		if i < 0 {
			return nil, cloud.Errorf("InvalidPrefixListModification", "The CIDR %s does not exist.", cidr)
		}
		entries = append(entries[:i], entries[i+1:]...)
	}
	for _, e := range add {
		ce, err := canonicalEntry(e, pl.AddressFamily)
		if err != nil {
			return nil, err
		}
		if plEntryIndex(entries, ce.Cidr) >= 0 {
			return nil, cloud.Errorf("InvalidPrefixListModification", "The CIDR %s already exists.", ce.Cidr)
		}
		entries = append(entries, ce)
	}
	if len(entries) > pl.MaxEntries {
		return nil, cloud.Errorf("PrefixListMaxEntriesExceeded", "The number of entries (%d) exceeds the maximum number of entries (%d) of the prefix list.", len(entries), pl.MaxEntries)
	}
	return entries, nil
}

func plEntryIndex(entries []cloud.PrefixListEntry, cidr string) int {
	for i, e := range entries {
		if e.Cidr == cidr {
			return i
		}
	}
	return -1
}

// PrefixListAssociation is a resource that references a prefix list.
type PrefixListAssociation struct {
	ResourceID, ResourceOwner string
}

// prefixListReferences lists the route tables and security groups of a
// region that reference a prefix list (owner nil: any account's).
func prefixListReferences(tx *store.Tx, region, id string, owner *string) []*PrefixListAssociation {
	var out []*PrefixListAssociation
	mine := func(m *cloud.Meta) bool { return m.Region == region && (owner == nil || m.OwnerID == *owner) }
	for _, rtb := range store.List[cloud.RouteTable](tx, cloud.KindRouteTable, nil) {
		if !mine(&rtb.Meta) {
			continue
		}
		for _, r := range rtb.Routes {
			if r.DestinationPrefixListID == id {
				out = append(out, &PrefixListAssociation{ResourceID: rtb.ID, ResourceOwner: rtb.OwnerID})
				break
			}
		}
	}
	for _, sg := range store.List[cloud.SecurityGroup](tx, cloud.KindSecurityGroup, nil) {
		if !mine(&sg.Meta) {
			continue
		}
		for _, r := range sg.Rules {
			if r.PrefixList == id {
				out = append(out, &PrefixListAssociation{ResourceID: sg.ID, ResourceOwner: sg.OwnerID})
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ResourceID < out[j].ResourceID })
	return out
}

// DeleteManagedPrefixList deletes a customer-managed list nothing references.
func (cp *ControlPlane) DeleteManagedPrefixList(ctx context.Context, c *Call, id string) (*cloud.ManagedPrefixList, error) {
	var out *cloud.ManagedPrefixList
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		pl, err := cp.ownedCustomerList(tx, c, id)
		if err != nil {
			return err
		}
		if refs := prefixListReferences(tx, pl.Region, pl.ID, nil); len(refs) > 0 {
			return cloud.Errorf("DependencyViolation", "The prefixList '%s' has dependencies and cannot be deleted. (referenced by %s)", pl.ID, refs[0].ResourceID)
		}
		if err := cp.authorize(ctx, c, PrefixListARN(pl)); err != nil {
			return err
		}
		tx.Delete(cloud.KindPrefixList, pl.ID)
		out = store.Clone(pl)
		out.State = "delete-in-progress"
		return nil
	})
	return out, err
}

// GetManagedPrefixListAssociations lists the caller's resources that
// reference a prefix list.
func (cp *ControlPlane) GetManagedPrefixListAssociations(ctx context.Context, c *Call, id string, page Page) ([]*PrefixListAssociation, string, error) {
	if id == "" {
		return nil, "", cloud.MissingParameter("PrefixListId")
	}
	if err := cp.checkDryRun(ctx, c); err != nil {
		return nil, "", err
	}
	var out []*PrefixListAssociation
	err := cp.db.View(func(tx *store.Tx) error {
		if lookupPrefixList(tx, c, id) == nil {
			return prefixListNotFound(id)
		}
		account := c.Account()
		out = prefixListReferences(tx, c.Region, id, &account)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return paginate(out, func(a *PrefixListAssociation) string { return a.ResourceID }, page, 5, 255)
}

// GetManagedPrefixListEntries returns a list's entries at its current or an
// earlier version, sorted by CIDR.
func (cp *ControlPlane) GetManagedPrefixListEntries(ctx context.Context, c *Call, id string, targetVersion *int, page Page) ([]*cloud.PrefixListEntry, string, error) {
	if id == "" {
		return nil, "", cloud.MissingParameter("PrefixListId")
	}
	if err := cp.checkDryRun(ctx, c); err != nil {
		return nil, "", err
	}
	var entries []cloud.PrefixListEntry
	err := cp.db.View(func(tx *store.Tx) error {
		pl := lookupPrefixList(tx, c, id)
		if pl == nil {
			return prefixListNotFound(id)
		}
		if targetVersion == nil || *targetVersion == pl.Version {
			entries = pl.Entries
			return nil
		}
		for _, h := range pl.History {
			if h.Version == *targetVersion {
				entries = h.Entries
				return nil
			}
		}
		return cloud.Errorf("InvalidParameterValue", "The target version %d of prefix list %s does not exist.", *targetVersion, id)
	})
	if err != nil {
		return nil, "", err
	}
	out := make([]*cloud.PrefixListEntry, len(entries))
	for i := range entries {
		e := entries[i]
		out[i] = &e
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Cidr < out[j].Cidr })
	return paginate(out, func(e *cloud.PrefixListEntry) string { return e.Cidr }, page, 1, 100)
}

var prefixListFilters = filterer[cloud.ManagedPrefixList]{
	tags: func(p *cloud.ManagedPrefixList) cloud.Tags { return p.Tags },
	fields: fields[cloud.ManagedPrefixList]{
		"owner-id":         func(p *cloud.ManagedPrefixList) []string { return one(p.OwnerID) },
		"prefix-list-id":   func(p *cloud.ManagedPrefixList) []string { return one(p.ID) },
		"prefix-list-name": func(p *cloud.ManagedPrefixList) []string { return one(p.Name) },
	},
}

// awsPrefixListFilters are DescribePrefixLists' (the older API's) filters.
var awsPrefixListFilters = filterer[cloud.ManagedPrefixList]{
	fields: fields[cloud.ManagedPrefixList]{
		"prefix-list-id":   func(p *cloud.ManagedPrefixList) []string { return one(p.ID) },
		"prefix-list-name": func(p *cloud.ManagedPrefixList) []string { return one(p.Name) },
	},
}

// DescribeManagedPrefixLists lists the region's AWS-managed lists and the
// caller's customer-managed ones.
func (cp *ControlPlane) DescribeManagedPrefixLists(ctx context.Context, c *Call, in DescribeInput) ([]*cloud.ManagedPrefixList, string, error) {
	return cp.describePrefixLists(ctx, c, in, prefixListFilters, true, 1, 100)
}

// DescribePrefixLists lists the region's AWS-managed (service) prefix lists.
func (cp *ControlPlane) DescribePrefixLists(ctx context.Context, c *Call, in DescribeInput) ([]*cloud.ManagedPrefixList, string, error) {
	return cp.describePrefixLists(ctx, c, in, awsPrefixListFilters, false, 1, 1000)
}

func (cp *ControlPlane) describePrefixLists(ctx context.Context, c *Call, in DescribeInput, f filterer[cloud.ManagedPrefixList], customer bool, min, max int) ([]*cloud.ManagedPrefixList, string, error) {
	if err := cp.checkDryRun(ctx, c); err != nil {
		return nil, "", err
	}
	keep, err := f.compile(in.Filters)
	if err != nil {
		return nil, "", err
	}
	all := awsManagedPrefixLists(c.Region)
	if customer {
		cp.db.View(func(tx *store.Tx) error {
			all = append(all, listOwned[cloud.ManagedPrefixList](tx, c, cloud.KindPrefixList, nil)...)
			return nil
		})
		sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	}
	byID := map[string]bool{}
	for _, pl := range all {
		byID[pl.ID] = true
	}
	for _, id := range in.IDs {
		if !byID[id] {
			return nil, "", prefixListNotFound(id)
		}
	}
	want := idSet(in.IDs)
	var items []*cloud.ManagedPrefixList
	for _, pl := range all {
		if (want == nil || want[pl.ID]) && keep(pl) {
			items = append(items, pl)
		}
	}
	return paginate(items, func(p *cloud.ManagedPrefixList) string { return p.ID }, in.Page, min, max)
}
