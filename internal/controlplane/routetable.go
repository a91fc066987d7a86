package controlplane

import (
	"context"
	"strings"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// CreateRouteTableInput is CreateRouteTable's parameters.
type CreateRouteTableInput struct {
	VpcID       string
	Tags        []TagSpec
	ClientToken string
}

// CreateRouteTable creates a custom route table holding the VPC's local route.
func (cp *ControlPlane) CreateRouteTable(ctx context.Context, c *Call, in CreateRouteTableInput) (*cloud.RouteTable, error) {
	if in.VpcID == "" {
		return nil, cloud.MissingParameter("VpcId")
	}
	tags, err := tagsFor(in.Tags, "route-table")
	if err != nil {
		return nil, err
	}
	var rtb *cloud.RouteTable
	err = cp.db.Update(ctx, func(tx *store.Tx) error {
		vpc, err := routingVpc(tx, c, in.VpcID)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "route-table", "*")); err != nil {
			return err
		}
		if id, err := idempotent(tx, c, in.ClientToken, in); err != nil || id != "" {
			if err == nil {
				// The token's resource may have been deleted since.
				var ok bool
				if rtb, ok = store.Get[cloud.RouteTable](tx, cloud.KindRouteTable, id); !ok {
					return cloud.NotFound("InvalidRouteTableID.NotFound", "routeTable ID", id)
				}
			}
			return err
		}
		rtb = &cloud.RouteTable{
			Meta:   cp.newMeta(c, cloud.NewID("rtb"), tags),
			VpcID:  vpc.ID,
			Routes: []cloud.Route{{DestinationCidrBlock: vpc.CidrBlock, GatewayID: "local", Origin: "CreateRouteTable", State: "active"}},
		}
		tx.Put(cloud.KindRouteTable, rtb.ID, rtb)
		cp.rememberToken(tx, c, in.ClientToken, in, rtb.ID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out *cloud.RouteTable
	cp.db.View(func(tx *store.Tx) error { out = resolveRouteTable(tx, rtb); return nil })
	return out, nil
}

func ownedRouteTable(tx *store.Tx, c *Call, id string) (*cloud.RouteTable, error) {
	if id == "" {
		return nil, cloud.MissingParameter("RouteTableId")
	}
	rtb := getOwned[cloud.RouteTable](tx, c, cloud.KindRouteTable, id)
	if rtb == nil {
		return nil, cloud.NotFound("InvalidRouteTableID.NotFound", "routeTable ID", id)
	}
	return rtb, nil
}

// DeleteRouteTable deletes a route table that is neither main nor associated.
func (cp *ControlPlane) DeleteRouteTable(ctx context.Context, c *Call, id string) error {
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		rtb, err := ownedRouteTable(tx, c, id)
		if err != nil {
			return err
		}
		if len(rtb.Associations) > 0 {
			return cloud.Errorf("DependencyViolation", "The routeTable '%s' has dependencies and cannot be deleted.", rtb.ID)
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "route-table", rtb.ID)); err != nil {
			return err
		}
		tx.Delete(cloud.KindRouteTable, rtb.ID)
		return nil
	})
}

// RouteState is a route's state as AWS reports it: active while its target
// exists (and an internet gateway is attached to the table's VPC),
// blackhole otherwise.
func RouteState(tx *store.Tx, vpcID string, r cloud.Route) string {
	live := false
	switch {
	case r.GatewayID == "local":
		live = true
	case strings.HasPrefix(r.GatewayID, "igw-"):
		g, ok := store.Get[cloud.InternetGateway](tx, cloud.KindInternetGateway, r.GatewayID)
		live = ok && igwAttachedTo(g, vpcID)
	case strings.HasPrefix(r.GatewayID, "vpce-"):
		live = endpointExists(tx, r.GatewayID)
	case r.VpcEndpointID != "":
		live = endpointExists(tx, r.VpcEndpointID)
	case r.InstanceID != "":
		i, ok := store.Get[cloud.Instance](tx, cloud.KindInstance, r.InstanceID)
		live = ok && i.State != "terminated" && i.State != "shutting-down"
	case r.NetworkInterfaceID != "":
		_, live = store.Get[cloud.NetworkInterface](tx, cloud.KindNetworkInterface, r.NetworkInterfaceID)
	}
	if live {
		return "active"
	}
	return "blackhole"
}

// liveEndpoint returns a VPC endpoint that can carry traffic, or nil. The
// endpoint family may not be registered in every store (unit tests).
func liveEndpoint(tx *store.Tx, id string) *cloud.VpcEndpoint {
	if !tx.HasKind(cloud.KindVpcEndpoint) {
		return nil
	}
	ep, ok := store.Get[cloud.VpcEndpoint](tx, cloud.KindVpcEndpoint, id)
	if !ok {
		return nil
	}
	switch ep.State {
	case cloud.StateDeleted, cloud.StateDeleting, cloud.StateFailed, cloud.StateRejected, cloud.StateExpired:
		return nil
	}
	return ep
}

func endpointExists(tx *store.Tx, id string) bool { return liveEndpoint(tx, id) != nil }

// resolveRouteTable returns a copy of rtb whose routes carry their current state.
func resolveRouteTable(tx *store.Tx, rtb *cloud.RouteTable) *cloud.RouteTable {
	out := store.Clone(rtb)
	out.Routes = make([]cloud.Route, len(rtb.Routes))
	for i, r := range rtb.Routes {
		r.State = RouteState(tx, rtb.VpcID, r)
		out.Routes[i] = r
	}
	return out
}

// SubnetRouteTable returns the table that routes a subnet's traffic: its
// explicit association, else its VPC's main route table (nil if none).
func (cp *ControlPlane) SubnetRouteTable(tx *store.Tx, subnet *cloud.Subnet) *cloud.RouteTable {
	var explicit, main *cloud.RouteTable
	tx.Each(cloud.KindRouteTable, func(_ string, v any) bool {
		rtb := v.(*cloud.RouteTable)
		if rtb.VpcID != subnet.VpcID {
			return true
		}
		for _, a := range rtb.Associations {
			if a.SubnetID == subnet.ID {
				explicit = rtb
				return false
			}
			if a.Main {
				main = rtb
			}
		}
		return true
	})
	if explicit != nil {
		return resolveRouteTable(tx, explicit)
	}
	if main != nil {
		return resolveRouteTable(tx, main)
	}
	return nil
}

func routeFieldAll(rtb *cloud.RouteTable, get func(cloud.Route) string) []string {
	var out []string
	for _, r := range rtb.Routes {
		if v := get(r); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func assocFieldAll(rtb *cloud.RouteTable, get func(cloud.RouteTableAssociation) string) []string {
	var out []string
	for _, a := range rtb.Associations {
		if v := get(a); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// routeGateway is the gatewayId AWS shows: GWLB endpoint targets appear there too.
func routeGateway(r cloud.Route) string {
	if r.GatewayID != "" {
		return r.GatewayID
	}
	return r.VpcEndpointID
}

func noValues(*cloud.RouteTable) []string { return nil }

var routeTableFilters = filterer[cloud.RouteTable]{
	tags: func(r *cloud.RouteTable) cloud.Tags { return r.Tags },
	fields: fields[cloud.RouteTable]{
		"association.gateway-id": func(r *cloud.RouteTable) []string {
			return assocFieldAll(r, func(a cloud.RouteTableAssociation) string { return a.GatewayID })
		},
		"association.route-table-association-id": func(r *cloud.RouteTable) []string {
			return assocFieldAll(r, func(a cloud.RouteTableAssociation) string { return a.ID })
		},
		"association.route-table-id": func(r *cloud.RouteTable) []string {
			if len(r.Associations) == 0 {
				return nil
			}
			return one(r.ID)
		},
		"association.subnet-id": func(r *cloud.RouteTable) []string {
			return assocFieldAll(r, func(a cloud.RouteTableAssociation) string { return a.SubnetID })
		},
		"association.main": func(r *cloud.RouteTable) []string {
			// A table without associations matches neither true nor false.
			return assocFieldAll(r, func(a cloud.RouteTableAssociation) string { return boolStr(a.Main)[0] })
		},
		"owner-id":       func(r *cloud.RouteTable) []string { return one(r.OwnerID) },
		"route-table-id": func(r *cloud.RouteTable) []string { return one(r.ID) },
		"route.destination-cidr-block": func(r *cloud.RouteTable) []string {
			return routeFieldAll(r, func(x cloud.Route) string { return x.DestinationCidrBlock })
		},
		"route.destination-prefix-list-id": func(r *cloud.RouteTable) []string {
			return routeFieldAll(r, func(x cloud.Route) string { return x.DestinationPrefixListID })
		},
		"route.gateway-id": func(r *cloud.RouteTable) []string { return routeFieldAll(r, routeGateway) },
		"route.instance-id": func(r *cloud.RouteTable) []string {
			return routeFieldAll(r, func(x cloud.Route) string { return x.InstanceID })
		},
		"route.network-interface-id": func(r *cloud.RouteTable) []string {
			return routeFieldAll(r, func(x cloud.Route) string { return x.NetworkInterfaceID })
		},
		"route.origin": func(r *cloud.RouteTable) []string {
			return routeFieldAll(r, func(x cloud.Route) string { return x.Origin })
		},
		"route.state": func(r *cloud.RouteTable) []string {
			return routeFieldAll(r, func(x cloud.Route) string { return x.State })
		},
		// Targets privlink does not model: valid filters that match nothing.
		"route.destination-ipv6-cidr-block":     noValues,
		"route.egress-only-internet-gateway-id": noValues,
		"route.nat-gateway-id":                  noValues,
		"route.transit-gateway-id":              noValues,
		"route.vpc-peering-connection-id":       noValues,
		"vpc-id":                                func(r *cloud.RouteTable) []string { return one(r.VpcID) },
	},
}

// DescribeRouteTables lists the caller's route tables with current route states.
func (cp *ControlPlane) DescribeRouteTables(ctx context.Context, c *Call, in DescribeInput) ([]*cloud.RouteTable, string, error) {
	if err := cp.checkDryRun(ctx, c); err != nil {
		return nil, "", err
	}
	keep, err := routeTableFilters.compile(in.Filters)
	if err != nil {
		return nil, "", err
	}
	want := idSet(in.IDs)
	var items []*cloud.RouteTable
	err = cp.db.View(func(tx *store.Tx) error {
		for _, id := range in.IDs {
			if getOwned[cloud.RouteTable](tx, c, cloud.KindRouteTable, id) == nil {
				return cloud.NotFound("InvalidRouteTableID.NotFound", "routeTable ID", id)
			}
		}
		for _, rtb := range listOwned[cloud.RouteTable](tx, c, cloud.KindRouteTable, func(r *cloud.RouteTable) bool { return want == nil || want[r.ID] }) {
			if r := resolveRouteTable(tx, rtb); keep(r) {
				items = append(items, r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return paginate(items, func(r *cloud.RouteTable) string { return r.ID }, in.Page, 5, 100)
}

// findAssociation finds the caller's route table holding an association.
func findAssociation(tx *store.Tx, c *Call, assocID string) (*cloud.RouteTable, int, error) {
	if assocID == "" {
		return nil, 0, cloud.MissingParameter("AssociationId")
	}
	for _, rtb := range listOwned[cloud.RouteTable](tx, c, cloud.KindRouteTable, nil) {
		for i, a := range rtb.Associations {
			if a.ID == assocID {
				return rtb, i, nil
			}
		}
	}
	return nil, 0, cloud.NotFound("InvalidAssociationID.NotFound", "association ID", assocID)
}

// AssociateRouteTable associates a table with a subnet, or with an internet
// gateway for ingress routing (an edge association). A subnet or gateway has
// at most one explicit association.
func (cp *ControlPlane) AssociateRouteTable(ctx context.Context, c *Call, rtbID, subnetID, gatewayID string) (string, error) {
	if subnetID == "" && gatewayID == "" {
		return "", cloud.MissingParameter("SubnetId")
	}
	if subnetID != "" && gatewayID != "" {
		return "", cloud.Errorf("InvalidParameterCombination", "Specify either a subnet or a gateway, not both.")
	}
	assoc := cloud.RouteTableAssociation{ID: cloud.NewID("rtbassoc"), SubnetID: subnetID, GatewayID: gatewayID}
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		rtb, err := ownedRouteTable(tx, c, rtbID)
		if err != nil {
			return err
		}
		if subnetID != "" {
			subnet := getOwned[cloud.Subnet](tx, c, cloud.KindSubnet, subnetID)
			if subnet == nil {
				return cloud.NotFound("InvalidSubnetID.NotFound", "subnet ID", subnetID)
			}
			if subnet.VpcID != rtb.VpcID {
				return cloud.Errorf("InvalidParameterValue", "Route table %s and subnet %s belong to different networks", rtb.ID, subnet.ID)
			}
		} else {
			igw := getOwned[cloud.InternetGateway](tx, c, cloud.KindInternetGateway, gatewayID)
			if igw == nil {
				return cloud.NotFound("InvalidGatewayID.NotFound", "gateway ID", gatewayID)
			}
			if !igwAttachedTo(igw, rtb.VpcID) {
				return cloud.Errorf("InvalidParameterValue", "Route table %s and network gateway %s belong to different networks", rtb.ID, igw.ID)
			}
		}
		for _, other := range store.List[cloud.RouteTable](tx, cloud.KindRouteTable, func(r *cloud.RouteTable) bool { return r.VpcID == rtb.VpcID }) {
			for _, a := range other.Associations {
				if (subnetID != "" && a.SubnetID == subnetID) || (gatewayID != "" && a.GatewayID == gatewayID) {
					return cloud.Errorf("Resource.AlreadyAssociated", "the specified association for route table %s conflicts with an existing association", rtb.ID)
				}
			}
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "route-table", rtb.ID)); err != nil {
			return err
		}
		r := store.Clone(rtb)
		r.Associations = append(append([]cloud.RouteTableAssociation(nil), rtb.Associations...), assoc)
		tx.Put(cloud.KindRouteTable, r.ID, r)
		return nil
	})
	if err != nil {
		return "", err
	}
	return assoc.ID, nil
}

// DisassociateRouteTable removes a subnet or gateway association; the subnet
// falls back to the main route table.
func (cp *ControlPlane) DisassociateRouteTable(ctx context.Context, c *Call, assocID string) error {
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		rtb, i, err := findAssociation(tx, c, assocID)
		if err != nil {
			return err
		}
		if rtb.Associations[i].Main {
			return cloud.Errorf("InvalidParameterValue", "cannot disassociate the main route table association %s", assocID)
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "route-table", rtb.ID)); err != nil {
			return err
		}
		r := store.Clone(rtb)
		r.Associations = append(append([]cloud.RouteTableAssociation(nil), rtb.Associations[:i]...), rtb.Associations[i+1:]...)
		tx.Put(cloud.KindRouteTable, r.ID, r)
		return nil
	})
}

// ReplaceRouteTableAssociation moves an association to another table of the
// same VPC. Moving the main association makes that table the VPC's main one.
func (cp *ControlPlane) ReplaceRouteTableAssociation(ctx context.Context, c *Call, assocID, rtbID string) (string, error) {
	newID := cloud.NewID("rtbassoc")
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		from, i, err := findAssociation(tx, c, assocID)
		if err != nil {
			return err
		}
		to, err := ownedRouteTable(tx, c, rtbID)
		if err != nil {
			return err
		}
		if to.VpcID != from.VpcID {
			return cloud.Errorf("InvalidParameterValue", "Route table %s and association %s belong to different networks", to.ID, assocID)
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "route-table", to.ID)); err != nil {
			return err
		}
		moved := from.Associations[i]
		moved.ID = newID
		f := store.Clone(from)
		f.Associations = append(append([]cloud.RouteTableAssociation(nil), from.Associations[:i]...), from.Associations[i+1:]...)
		tx.Put(cloud.KindRouteTable, f.ID, f)
		// Re-read: from and to may be the same table.
		cur, _ := store.Get[cloud.RouteTable](tx, cloud.KindRouteTable, to.ID)
		t := store.Clone(cur)
		t.Associations = append(append([]cloud.RouteTableAssociation(nil), cur.Associations...), moved)
		tx.Put(cloud.KindRouteTable, t.ID, t)
		if moved.Main {
			if vpc, ok := store.Get[cloud.Vpc](tx, cloud.KindVpc, to.VpcID); ok {
				v := store.Clone(vpc)
				v.MainRouteTableID = to.ID
				tx.Put(cloud.KindVpc, v.ID, v)
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return newID, nil
}

// RouteInput is the destination and target of CreateRoute/ReplaceRoute.
type RouteInput struct {
	RouteTableID            string
	DestinationCidrBlock    string
	DestinationPrefixListID string
	GatewayID               string
	NetworkInterfaceID      string
	InstanceID              string
	VpcEndpointID           string
	// LocalTarget restores the local route's target (ReplaceRoute only).
	LocalTarget bool
	// UnsupportedTargets names target parameters privlink does not model
	// (NatGatewayId, TransitGatewayId, ...) that the request carried.
	UnsupportedTargets []string
}

// routeDestination validates a route's destination and returns its canonical form.
func (cp *ControlPlane) routeDestination(tx *store.Tx, c *Call, cidr, pl string) (cloud.Route, error) {
	switch {
	case cidr == "" && pl == "":
		return cloud.Route{}, cloud.Errorf("MissingParameter", "The request must contain the parameter destinationCidrBlock or destinationPrefixListId")
	case cidr != "" && pl != "":
		return cloud.Route{}, cloud.Errorf("InvalidParameterCombination", "Specify either destinationCidrBlock or destinationPrefixListId, not both.")
	case pl != "":
		if _, ok := prefixListCIDRsFor(tx, c, pl); !ok {
			return cloud.Route{}, cloud.NotFound("InvalidPrefixListID.NotFound", "prefix list ID", pl)
		}
		return cloud.Route{DestinationPrefixListID: pl}, nil
	}
	p, ok := parseIPv4Prefix(cidr)
	if !ok {
		return cloud.Route{}, cloud.Errorf("InvalidParameterValue", "Value (%s) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block.", cidr)
	}
	return cloud.Route{DestinationCidrBlock: p.String()}, nil
}

// routeTarget validates a route's single target in the table's VPC and fills it in.
func (cp *ControlPlane) routeTarget(tx *store.Tx, c *Call, rtb *cloud.RouteTable, in RouteInput, r *cloud.Route) error {
	n := len(in.UnsupportedTargets)
	for _, s := range []string{in.GatewayID, in.NetworkInterfaceID, in.InstanceID, in.VpcEndpointID} {
		if s != "" {
			n++
		}
	}
	if in.LocalTarget {
		n++
	}
	if n != 1 {
		return cloud.Errorf("InvalidParameterCombination", "The request must contain exactly one route target.")
	}
	if len(in.UnsupportedTargets) > 0 {
		return cloud.Errorf("UnsupportedOperation", "The route target %s is not supported by privlink.", in.UnsupportedTargets[0])
	}
	switch {
	case in.LocalTarget:
		r.GatewayID = "local"
	case in.GatewayID != "":
		if !strings.HasPrefix(in.GatewayID, "igw-") {
			return cloud.NotFound("InvalidGatewayID.NotFound", "gateway ID", in.GatewayID)
		}
		igw := getOwned[cloud.InternetGateway](tx, c, cloud.KindInternetGateway, in.GatewayID)
		if igw == nil {
			return cloud.NotFound("InvalidGatewayID.NotFound", "gateway ID", in.GatewayID)
		}
		if !igwAttachedTo(igw, rtb.VpcID) {
			return cloud.Errorf("InvalidParameterValue", "route table %s and network gateway %s belong to different networks", rtb.ID, igw.ID)
		}
		r.GatewayID = igw.ID
	case in.NetworkInterfaceID != "":
		eni := getOwned[cloud.NetworkInterface](tx, c, cloud.KindNetworkInterface, in.NetworkInterfaceID)
		if eni == nil {
			return cloud.NotFound("InvalidNetworkInterfaceID.NotFound", "network interface ID", in.NetworkInterfaceID)
		}
		if eni.VpcID != rtb.VpcID {
			return cloud.Errorf("InvalidParameterValue", "route table %s and interface %s belong to different networks", rtb.ID, eni.ID)
		}
		r.NetworkInterfaceID, r.InstanceID = eni.ID, eni.InstanceID
	case in.InstanceID != "":
		inst := getOwned[cloud.Instance](tx, c, cloud.KindInstance, in.InstanceID)
		if inst == nil || inst.State == "terminated" {
			return cloud.NotFound("InvalidInstanceID.NotFound", "instance ID", in.InstanceID)
		}
		if inst.VpcID != rtb.VpcID {
			return cloud.Errorf("InvalidParameterValue", "route table %s and instance %s belong to different networks", rtb.ID, inst.ID)
		}
		r.InstanceID, r.NetworkInterfaceID = inst.ID, inst.NetworkInterfaceID
	case in.VpcEndpointID != "":
		// Only Gateway Load Balancer endpoints are route targets; gateway
		// endpoints add their own prefix-list routes.
		ep := liveEndpoint(tx, in.VpcEndpointID)
		if ep == nil || !visible(c, &ep.Meta) {
			return cloud.NotFound("InvalidVpcEndpointId.NotFound", "vpcEndpoint ID", in.VpcEndpointID)
		}
		if ep.Type != cloud.EndpointGatewayLoadBalancer {
			return cloud.Errorf("InvalidParameterValue", "The VPC endpoint %s is of type %s; only Gateway Load Balancer endpoints can be route targets.", ep.ID, ep.Type)
		}
		if ep.VpcID != rtb.VpcID {
			return cloud.Errorf("InvalidParameterValue", "route table %s and vpc endpoint %s belong to different networks", rtb.ID, ep.ID)
		}
		r.VpcEndpointID = ep.ID
	}
	return nil
}

// localRoute reports whether r is the table's local route: it keeps the
// VPC CIDR as destination even when its target was replaced by a middlebox.
func localRoute(vpc *cloud.Vpc, r cloud.Route) bool {
	return r.Origin == "CreateRouteTable" && r.DestinationCidrBlock == vpc.CidrBlock
}

// checkVpcCIDR refuses a route inside the VPC's range unless it targets an
// interface, an instance or a GWLB endpoint (more specific routing).
func checkVpcCIDR(vpc *cloud.Vpc, r cloud.Route) error {
	if r.DestinationCidrBlock == "" || r.GatewayID == "local" {
		return nil
	}
	dst, _ := parseIPv4Prefix(r.DestinationCidrBlock)
	vp, ok := parseIPv4Prefix(vpc.CidrBlock)
	if ok && contains(vp, dst) && r.NetworkInterfaceID == "" && r.VpcEndpointID == "" {
		return cloud.Errorf("InvalidParameterValue", "The destination CIDR block %s is equal to or more specific than one of this VPC's CIDR blocks. This route can target only an interface or an instance.", r.DestinationCidrBlock)
	}
	return nil
}

func routeIndex(rtb *cloud.RouteTable, dest string) int {
	for i, r := range rtb.Routes {
		if r.Destination() == dest {
			return i
		}
	}
	return -1
}

// routeChange validates a route change and returns the table's VPC and the new route.
func (cp *ControlPlane) routeChange(tx *store.Tx, c *Call, in RouteInput) (*cloud.RouteTable, *cloud.Vpc, cloud.Route, error) {
	rtb, err := ownedRouteTable(tx, c, in.RouteTableID)
	if err != nil {
		return nil, nil, cloud.Route{}, err
	}
	r, err := cp.routeDestination(tx, c, in.DestinationCidrBlock, in.DestinationPrefixListID)
	if err != nil {
		return nil, nil, cloud.Route{}, err
	}
	if err := cp.routeTarget(tx, c, rtb, in, &r); err != nil {
		return nil, nil, cloud.Route{}, err
	}
	vpc, ok := store.Get[cloud.Vpc](tx, cloud.KindVpc, rtb.VpcID)
	if !ok {
		return nil, nil, cloud.Route{}, cloud.NotFound("InvalidVpcID.NotFound", "vpc ID", rtb.VpcID)
	}
	return rtb, vpc, r, nil
}

// CreateRoute adds a route to a table.
func (cp *ControlPlane) CreateRoute(ctx context.Context, c *Call, in RouteInput) error {
	if in.LocalTarget {
		return cloud.Errorf("InvalidParameterValue", "LocalTarget is only valid for ReplaceRoute.")
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		rtb, vpc, r, err := cp.routeChange(tx, c, in)
		if err != nil {
			return err
		}
		if err := checkVpcCIDR(vpc, r); err != nil {
			return err
		}
		if routeIndex(rtb, r.Destination()) >= 0 {
			return cloud.Errorf("RouteAlreadyExists", "The route identified by %s already exists.", r.Destination())
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "route-table", rtb.ID)); err != nil {
			return err
		}
		r.Origin, r.State = "CreateRoute", "active"
		t := store.Clone(rtb)
		t.Routes = append(append([]cloud.Route(nil), rtb.Routes...), r)
		tx.Put(cloud.KindRouteTable, t.ID, t)
		return nil
	})
}

// ReplaceRoute changes the target of an existing route. The local route may
// be pointed at a middlebox (interface, instance, GWLB endpoint) and back
// with LocalTarget, as AWS allows.
func (cp *ControlPlane) ReplaceRoute(ctx context.Context, c *Call, in RouteInput) error {
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		rtb, vpc, r, err := cp.routeChange(tx, c, in)
		if err != nil {
			return err
		}
		i := routeIndex(rtb, r.Destination())
		if i < 0 {
			return cloud.Errorf("InvalidRoute.NotFound", "There is no route defined for '%s' in the route table. Please correct the route table ID and destination and try again.", r.Destination())
		}
		old := rtb.Routes[i]
		isLocal := localRoute(vpc, old)
		switch {
		case in.LocalTarget && !isLocal:
			return cloud.Errorf("InvalidParameterValue", "LocalTarget can only be used to restore the local route %s.", vpc.CidrBlock)
		case isLocal && r.GatewayID != "local" && r.NetworkInterfaceID == "" && r.VpcEndpointID == "":
			return cloud.Errorf("InvalidParameterValue", "The local route %s in route table %s can target only the local target, an interface, an instance or a Gateway Load Balancer endpoint.", vpc.CidrBlock, rtb.ID)
		case !isLocal:
			if err := checkVpcCIDR(vpc, r); err != nil {
				return err
			}
		}
		if strings.HasPrefix(old.GatewayID, "vpce-") {
			return cloud.Errorf("InvalidParameterValue", "The route %s in route table %s is managed by VPC endpoint %s; modify the endpoint instead.", old.Destination(), rtb.ID, old.GatewayID)
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "route-table", rtb.ID)); err != nil {
			return err
		}
		r.Origin, r.State = old.Origin, "active"
		t := store.Clone(rtb)
		t.Routes = append([]cloud.Route(nil), rtb.Routes...)
		t.Routes[i] = r
		tx.Put(cloud.KindRouteTable, t.ID, t)
		return nil
	})
}

// DeleteRoute removes a route; the local route and gateway endpoint routes
// cannot be removed this way.
func (cp *ControlPlane) DeleteRoute(ctx context.Context, c *Call, rtbID, cidr, pl string) error {
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		rtb, err := ownedRouteTable(tx, c, rtbID)
		if err != nil {
			return err
		}
		dst, err := cp.destinationForDelete(cidr, pl)
		if err != nil {
			return err
		}
		i := routeIndex(rtb, dst)
		if i < 0 {
			kind := "destination-cidr-block"
			if pl != "" {
				kind = "destination-prefix-list-id"
			}
			return cloud.Errorf("InvalidRoute.NotFound", "no route with %s %s in route table %s", kind, dst, rtb.ID)
		}
		old := rtb.Routes[i]
		if vpc, ok := store.Get[cloud.Vpc](tx, cloud.KindVpc, rtb.VpcID); ok && localRoute(vpc, old) {
			return cloud.Errorf("InvalidParameterValue", "cannot remove local route %s in route table %s", dst, rtb.ID)
		}
		if strings.HasPrefix(old.GatewayID, "vpce-") {
			return cloud.Errorf("InvalidParameterValue", "The route %s in route table %s is managed by VPC endpoint %s; modify the endpoint instead.", dst, rtb.ID, old.GatewayID)
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "route-table", rtb.ID)); err != nil {
			return err
		}
		t := store.Clone(rtb)
		t.Routes = append(append([]cloud.Route(nil), rtb.Routes[:i]...), rtb.Routes[i+1:]...)
		tx.Put(cloud.KindRouteTable, t.ID, t)
		return nil
	})
}

// destinationForDelete canonicalizes DeleteRoute's destination without
// requiring the prefix list to still exist.
func (cp *ControlPlane) destinationForDelete(cidr, pl string) (string, error) {
	switch {
	case cidr == "" && pl == "":
		return "", cloud.Errorf("MissingParameter", "The request must contain the parameter destinationCidrBlock or destinationPrefixListId")
	case cidr != "" && pl != "":
		return "", cloud.Errorf("InvalidParameterCombination", "Specify either destinationCidrBlock or destinationPrefixListId, not both.")
	case pl != "":
		return pl, nil
	}
	p, ok := parseIPv4Prefix(cidr)
	if !ok {
		return "", cloud.Errorf("InvalidParameterValue", "Value (%s) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block.", cidr)
	}
	return p.String(), nil
}

// addGatewayEndpointRoute adds a gateway endpoint's route (the service's
// prefix list → vpce-…) to a table, inside the caller's transaction.
func addGatewayEndpointRoute(tx *store.Tx, rtb *cloud.RouteTable, prefixListID, vpceID string) error {
	cur, ok := store.Get[cloud.RouteTable](tx, cloud.KindRouteTable, rtb.ID)
	if !ok {
		return cloud.NotFound("InvalidRouteTableID.NotFound", "routeTable ID", rtb.ID)
	}
	if routeIndex(cur, prefixListID) >= 0 {
		return cloud.Errorf("RouteAlreadyExists", "route table %s already has a route with destination-prefix-list-id %s", cur.ID, prefixListID)
	}
	t := store.Clone(cur)
	t.Routes = append(append([]cloud.Route(nil), cur.Routes...), cloud.Route{
		DestinationPrefixListID: prefixListID, GatewayID: vpceID, Origin: "CreateRoute", State: "active",
	})
	tx.Put(cloud.KindRouteTable, t.ID, t)
	return nil
}

// removeGatewayEndpointRoutes removes a gateway endpoint's routes from a table.
func removeGatewayEndpointRoutes(tx *store.Tx, rtb *cloud.RouteTable, vpceID string) {
	cur, ok := store.Get[cloud.RouteTable](tx, cloud.KindRouteTable, rtb.ID)
	if !ok {
		return
	}
	kept := make([]cloud.Route, 0, len(cur.Routes))
	for _, r := range cur.Routes {
		if r.GatewayID != vpceID {
			kept = append(kept, r)
		}
	}
	if len(kept) != len(cur.Routes) {
		t := store.Clone(cur)
		t.Routes = kept
		tx.Put(cloud.KindRouteTable, t.ID, t)
	}
}
