package controlplane

import (
	"context"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// CreateInternetGatewayInput is CreateInternetGateway's parameters.
type CreateInternetGatewayInput struct {
	Tags []TagSpec
}

// CreateInternetGateway creates a detached internet gateway.
func (cp *ControlPlane) CreateInternetGateway(ctx context.Context, c *Call, in CreateInternetGatewayInput) (*cloud.InternetGateway, error) {
	if _, err := cp.region(c); err != nil {
		return nil, err
	}
	tags, err := tagsFor(in.Tags, "internet-gateway")
	if err != nil {
		return nil, err
	}
	if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "internet-gateway", "*")); err != nil {
		return nil, err
	}
	igw := &cloud.InternetGateway{Meta: cp.newMeta(c, cloud.NewID("igw"), tags)}
	err = cp.db.Update(ctx, func(tx *store.Tx) error {
		tx.Put(cloud.KindInternetGateway, igw.ID, igw)
		return nil
	})
	return igw, err
}

// igwAttachedTo reports whether the gateway is attached to vpcID.
func igwAttachedTo(igw *cloud.InternetGateway, vpcID string) bool {
	for _, a := range igw.Attachments {
		if a.VpcID == vpcID {
			return true
		}
	}
	return false
}

// vpcInternetGateway returns the gateway attached to a VPC, or nil.
func vpcInternetGateway(tx *store.Tx, vpcID string) *cloud.InternetGateway {
	var found *cloud.InternetGateway
	tx.Each(cloud.KindInternetGateway, func(_ string, v any) bool {
		if g := v.(*cloud.InternetGateway); igwAttachedTo(g, vpcID) {
			found = g
			return false
		}
		return true
	})
	return found
}

// ownedIGW and routingVpc fetch the caller's resources or return AWS's NotFound.
func ownedIGW(tx *store.Tx, c *Call, id string) (*cloud.InternetGateway, error) {
	if id == "" {
		return nil, cloud.MissingParameter("InternetGatewayId")
	}
	igw := getOwned[cloud.InternetGateway](tx, c, cloud.KindInternetGateway, id)
	if igw == nil {
		return nil, cloud.NotFound("InvalidInternetGatewayID.NotFound", "internetGateway ID", id)
	}
	return igw, nil
}

func routingVpc(tx *store.Tx, c *Call, id string) (*cloud.Vpc, error) {
	if id == "" {
		return nil, cloud.MissingParameter("VpcId")
	}
	vpc := getOwned[cloud.Vpc](tx, c, cloud.KindVpc, id)
	if vpc == nil {
		return nil, cloud.NotFound("InvalidVpcID.NotFound", "vpc ID", id)
	}
	return vpc, nil
}

// AttachInternetGateway attaches a gateway to a VPC. A gateway serves one
// VPC and a VPC has at most one gateway.
func (cp *ControlPlane) AttachInternetGateway(ctx context.Context, c *Call, igwID, vpcID string) error {
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		igw, err := ownedIGW(tx, c, igwID)
		if err != nil {
			return err
		}
		vpc, err := routingVpc(tx, c, vpcID)
		if err != nil {
			return err
		}
		if len(igw.Attachments) > 0 {
			return cloud.Errorf("Resource.AlreadyAssociated", "resource %s is already attached to network %s", igw.ID, igw.Attachments[0].VpcID)
		}
		if other := vpcInternetGateway(tx, vpc.ID); other != nil {
			return cloud.Errorf("InvalidParameterValue", "Network %s already has an internet gateway attached", vpc.ID)
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "internet-gateway", igw.ID)); err != nil {
			return err
		}
		g := store.Clone(igw)
		g.Attachments = []cloud.InternetGatewayAttachment{{VpcID: vpc.ID, State: "available"}}
		tx.Put(cloud.KindInternetGateway, g.ID, g)
		return nil
	})
}

// DetachInternetGateway detaches a gateway from a VPC; routes through it
// become blackholes (RouteState computes that from the attachment).
func (cp *ControlPlane) DetachInternetGateway(ctx context.Context, c *Call, igwID, vpcID string) error {
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		igw, err := ownedIGW(tx, c, igwID)
		if err != nil {
			return err
		}
		vpc, err := routingVpc(tx, c, vpcID)
		if err != nil {
			return err
		}
		if !igwAttachedTo(igw, vpc.ID) {
			return cloud.Errorf("Gateway.NotAttached", "resource %s is not attached to network %s", igw.ID, vpc.ID)
		}
		// An edge association (ingress routing) would outlive the attachment.
		for _, rtb := range store.List[cloud.RouteTable](tx, cloud.KindRouteTable, func(r *cloud.RouteTable) bool { return r.VpcID == vpc.ID }) {
			for _, a := range rtb.Associations {
				if a.GatewayID == igw.ID {
					return cloud.Errorf("DependencyViolation", "The internetGateway '%s' has dependencies and cannot be detached: it is associated with route table %s (%s).", igw.ID, rtb.ID, a.ID)
				}
			}
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "internet-gateway", igw.ID)); err != nil {
			return err
		}
		g := store.Clone(igw)
		g.Attachments = nil
		tx.Put(cloud.KindInternetGateway, g.ID, g)
		return nil
	})
}

// DeleteInternetGateway deletes a detached gateway. Routes that still name
// it stay, as blackholes, as in AWS.
func (cp *ControlPlane) DeleteInternetGateway(ctx context.Context, c *Call, igwID string) error {
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		igw, err := ownedIGW(tx, c, igwID)
		if err != nil {
			return err
		}
		if len(igw.Attachments) > 0 {
			return cloud.Errorf("DependencyViolation", "The internetGateway '%s' has dependencies and cannot be deleted.", igw.ID)
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "internet-gateway", igw.ID)); err != nil {
			return err
		}
		tx.Delete(cloud.KindInternetGateway, igw.ID)
		return nil
	})
}

var igwFilters = filterer[cloud.InternetGateway]{
	tags: func(g *cloud.InternetGateway) cloud.Tags { return g.Tags },
	fields: fields[cloud.InternetGateway]{
		"attachment.state": func(g *cloud.InternetGateway) []string {
			var out []string
			for _, a := range g.Attachments {
				out = append(out, a.State)
			}
			return out
		},
		"attachment.vpc-id": func(g *cloud.InternetGateway) []string {
			var out []string
			for _, a := range g.Attachments {
				out = append(out, a.VpcID)
			}
			return out
		},
		"internet-gateway-id": func(g *cloud.InternetGateway) []string { return one(g.ID) },
		"owner-id":            func(g *cloud.InternetGateway) []string { return one(g.OwnerID) },
	},
}

// DescribeInternetGateways lists the caller's internet gateways.
func (cp *ControlPlane) DescribeInternetGateways(ctx context.Context, c *Call, in DescribeInput) ([]*cloud.InternetGateway, string, error) {
	return describe(ctx, cp, c, in, cloud.KindInternetGateway, igwFilters, "InvalidInternetGatewayID.NotFound", "internetGateway ID", func(g *cloud.InternetGateway) string { return g.ID })
}
