package ec2

import (
	"context"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
)

func (a *API) registerPrefixList(m map[string]awsapi.Handler) {
	m["DescribePrefixLists"] = withCall(a.describePrefixLists)
	m["DescribeManagedPrefixLists"] = withCall(a.describeManagedPrefixLists)
	m["GetManagedPrefixListEntries"] = withCall(a.getManagedPrefixListEntries)
	m["GetManagedPrefixListAssociations"] = withCall(a.getManagedPrefixListAssociations)
	m["CreateManagedPrefixList"] = withCall(a.createManagedPrefixList)
	m["ModifyManagedPrefixList"] = withCall(a.modifyManagedPrefixList)
	m["DeleteManagedPrefixList"] = withCall(a.deleteManagedPrefixList)
}

// ManagedPrefixListXML is the ManagedPrefixList shape.
type ManagedPrefixListXML struct {
	PrefixListID   string `xml:"prefixListId"`
	AddressFamily  string `xml:"addressFamily"`
	State          string `xml:"state"`
	PrefixListArn  string `xml:"prefixListArn"`
	PrefixListName string `xml:"prefixListName"`
	MaxEntries     int    `xml:"maxEntries"`
	Version        int    `xml:"version"`
	TagSet         []Tag  `xml:"tagSet>item"`
	OwnerID        string `xml:"ownerId"`
}

func managedPrefixListXML(p *cloud.ManagedPrefixList) ManagedPrefixListXML {
	return ManagedPrefixListXML{
		PrefixListID: p.ID, AddressFamily: p.AddressFamily, State: p.State, PrefixListArn: controlplane.PrefixListARN(p),
		PrefixListName: p.Name, MaxEntries: p.MaxEntries, Version: p.Version, TagSet: tagSet(p.Tags), OwnerID: p.OwnerID,
	}
}

func (a *API) describePrefixLists(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in, err := describeInput(r, "PrefixListId")
	if err != nil {
		return nil, err
	}
	lists, next, err := a.cp.DescribePrefixLists(ctx, c, in)
	if err != nil {
		return nil, err
	}
	type prefixListXML struct {
		PrefixListID   string   `xml:"prefixListId"`
		PrefixListName string   `xml:"prefixListName"`
		Cidrs          []string `xml:"cidrSet>item"`
	}
	out := &struct {
		PrefixLists []prefixListXML `xml:"prefixListSet>item"`
		NextToken   string          `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, p := range lists {
		x := prefixListXML{PrefixListID: p.ID, PrefixListName: p.Name}
		for _, e := range p.Entries {
			x.Cidrs = append(x.Cidrs, e.Cidr)
		}
		out.PrefixLists = append(out.PrefixLists, x)
	}
	return out, nil
}

func (a *API) describeManagedPrefixLists(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in, err := describeInput(r, "PrefixListId")
	if err != nil {
		return nil, err
	}
	lists, next, err := a.cp.DescribeManagedPrefixLists(ctx, c, in)
	if err != nil {
		return nil, err
	}
	out := &struct {
		PrefixLists []ManagedPrefixListXML `xml:"prefixListSet>item"`
		NextToken   string                 `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, p := range lists {
		out.PrefixLists = append(out.PrefixLists, managedPrefixListXML(p))
	}
	return out, nil
}

func (a *API) getManagedPrefixListEntries(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	pg, err := page(r)
	if err != nil {
		return nil, err
	}
	target, err := r.Params.OptInt("TargetVersion")
	if err != nil {
		return nil, err
	}
	entries, next, err := a.cp.GetManagedPrefixListEntries(ctx, c, r.Params.Get("PrefixListId"), target, pg)
	if err != nil {
		return nil, err
	}
	type entryXML struct {
		Cidr        string `xml:"cidr"`
		Description string `xml:"description,omitempty"`
	}
	out := &struct {
		Entries   []entryXML `xml:"entrySet>item"`
		NextToken string     `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, e := range entries {
		out.Entries = append(out.Entries, entryXML{Cidr: e.Cidr, Description: e.Description})
	}
	return out, nil
}

func (a *API) getManagedPrefixListAssociations(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	pg, err := page(r)
	if err != nil {
		return nil, err
	}
	assocs, next, err := a.cp.GetManagedPrefixListAssociations(ctx, c, r.Params.Get("PrefixListId"), pg)
	if err != nil {
		return nil, err
	}
	type assocXML struct {
		ResourceID    string `xml:"resourceId"`
		ResourceOwner string `xml:"resourceOwner"`
	}
	out := &struct {
		Associations []assocXML `xml:"prefixListAssociationSet>item"`
		NextToken    string     `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, a := range assocs {
		out.Associations = append(out.Associations, assocXML{ResourceID: a.ResourceID, ResourceOwner: a.ResourceOwner})
	}
	return out, nil
}

// prefixListEntries decodes Name.N.Cidr / Name.N.Description.
func prefixListEntries(r *awsapi.Request, name string) []cloud.PrefixListEntry {
	var out []cloud.PrefixListEntry
	for _, s := range r.Params.Structs(name) {
		out = append(out, cloud.PrefixListEntry{Cidr: s.Get("Cidr"), Description: s.Get("Description")})
	}
	return out
}

func (a *API) createManagedPrefixList(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	tags, err := tagSpecs(r)
	if err != nil {
		return nil, err
	}
	max, err := r.Params.OptInt("MaxEntries")
	if err != nil {
		return nil, err
	}
	p, err := a.cp.CreateManagedPrefixList(ctx, c, controlplane.CreateManagedPrefixListInput{
		Name: r.Params.Get("PrefixListName"), MaxEntries: max, AddressFamily: r.Params.Get("AddressFamily"),
		Entries: prefixListEntries(r, "Entry"), Tags: tags, ClientToken: r.Params.Get("ClientToken"),
	})
	if err != nil {
		return nil, err
	}
	return &struct {
		PrefixList ManagedPrefixListXML `xml:"prefixList"`
	}{managedPrefixListXML(p)}, nil
}

func (a *API) modifyManagedPrefixList(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	if r.Params.Has("IpamPrefixListResolverSyncEnabled") {
		return nil, cloud.Errorf("UnsupportedOperation", "The parameter IpamPrefixListResolverSyncEnabled is not supported by privlink.")
	}
	version, err := r.Params.OptInt("CurrentVersion")
	if err != nil {
		return nil, err
	}
	max, err := r.Params.OptInt("MaxEntries")
	if err != nil {
		return nil, err
	}
	var remove []string
	for _, s := range r.Params.Structs("RemoveEntry") {
		remove = append(remove, s.Get("Cidr"))
	}
	p, err := a.cp.ModifyManagedPrefixList(ctx, c, controlplane.ModifyManagedPrefixListInput{
		PrefixListID: r.Params.Get("PrefixListId"), CurrentVersion: version, Name: r.Params.Get("PrefixListName"),
		MaxEntries: max, AddEntries: prefixListEntries(r, "AddEntry"), RemoveEntries: remove,
	})
	if err != nil {
		return nil, err
	}
	return &struct {
		PrefixList ManagedPrefixListXML `xml:"prefixList"`
	}{managedPrefixListXML(p)}, nil
}

func (a *API) deleteManagedPrefixList(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	p, err := a.cp.DeleteManagedPrefixList(ctx, c, r.Params.Get("PrefixListId"))
	if err != nil {
		return nil, err
	}
	return &struct {
		PrefixList ManagedPrefixListXML `xml:"prefixList"`
	}{managedPrefixListXML(p)}, nil
}
