package ec2

import (
	"context"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/controlplane"
)

func (a *API) registerNetworkAcl(m map[string]awsapi.Handler) {
	m["CreateNetworkAcl"] = withCall(a.createNetworkAcl)
	m["DeleteNetworkAcl"] = withCall(a.deleteNetworkAcl)
	m["DescribeNetworkAcls"] = withCall(a.describeNetworkAcls)
	m["CreateNetworkAclEntry"] = a.writeNetworkAclEntry(false)
	m["ReplaceNetworkAclEntry"] = a.writeNetworkAclEntry(true)
	m["DeleteNetworkAclEntry"] = withCall(a.deleteNetworkAclEntry)
	m["ReplaceNetworkAclAssociation"] = withCall(a.replaceNetworkAclAssociation)
}

// NetworkAclXML is the NetworkAcl shape.
type NetworkAclXML struct {
	NetworkAclID   string                     `xml:"networkAclId"`
	VpcID          string                     `xml:"vpcId"`
	IsDefault      bool                       `xml:"default"`
	EntrySet       sgList[networkAclEntryXML] `xml:"entrySet"`
	AssociationSet sgList[networkAclAssocXML] `xml:"associationSet"`
	TagSet         sgList[Tag]                `xml:"tagSet"`
	OwnerID        string                     `xml:"ownerId"`
}

type networkAclEntryXML struct {
	RuleNumber    int           `xml:"ruleNumber"`
	Protocol      string        `xml:"protocol"`
	RuleAction    string        `xml:"ruleAction"`
	Egress        bool          `xml:"egress"`
	CidrBlock     string        `xml:"cidrBlock,omitempty"`
	Ipv6CidrBlock string        `xml:"ipv6CidrBlock,omitempty"`
	IcmpTypeCode  *icmpTypeCode `xml:"icmpTypeCode,omitempty"`
	PortRange     *portRange    `xml:"portRange,omitempty"`
}

type icmpTypeCode struct {
	Code int `xml:"code"`
	Type int `xml:"type"`
}

type portRange struct {
	From int `xml:"from"`
	To   int `xml:"to"`
}

type networkAclAssocXML struct {
	NetworkAclAssociationID string `xml:"networkAclAssociationId"`
	NetworkAclID            string `xml:"networkAclId"`
	SubnetID                string `xml:"subnetId"`
}

func networkAclXML(acl *cloud.NetworkAcl) NetworkAclXML {
	x := NetworkAclXML{NetworkAclID: acl.ID, VpcID: acl.VpcID, IsDefault: acl.IsDefault, TagSet: sgList[Tag]{tagSet(acl.Tags)}, OwnerID: acl.OwnerID}
	for _, e := range controlplane.OrderedACLEntries(acl) {
		ex := networkAclEntryXML{RuleNumber: e.RuleNumber, Protocol: e.Protocol, RuleAction: e.RuleAction, Egress: e.Egress, CidrBlock: e.CidrBlock, Ipv6CidrBlock: e.Ipv6Cidr}
		if e.IcmpType != nil && e.IcmpCode != nil {
			ex.IcmpTypeCode = &icmpTypeCode{Code: *e.IcmpCode, Type: *e.IcmpType}
		}
		if e.FromPort != nil && e.ToPort != nil {
			ex.PortRange = &portRange{From: *e.FromPort, To: *e.ToPort}
		}
		x.EntrySet.Items = append(x.EntrySet.Items, ex)
	}
	for _, as := range acl.Associations {
		x.AssociationSet.Items = append(x.AssociationSet.Items, networkAclAssocXML{NetworkAclAssociationID: as.ID, NetworkAclID: acl.ID, SubnetID: as.SubnetID})
	}
	return x
}

func (a *API) createNetworkAcl(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	tags, err := tagSpecs(r)
	if err != nil {
		return nil, err
	}
	acl, err := a.cp.CreateNetworkAcl(ctx, c, controlplane.CreateNetworkAclInput{VpcID: r.Params.Get("VpcId"), Tags: tags, ClientToken: r.Params.Get("ClientToken")})
	if err != nil {
		return nil, err
	}
	return &struct {
		NetworkAcl  NetworkAclXML `xml:"networkAcl"`
		ClientToken string        `xml:"clientToken,omitempty"`
	}{networkAclXML(acl), r.Params.Get("ClientToken")}, nil
}

func (a *API) deleteNetworkAcl(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	if err := a.cp.DeleteNetworkAcl(ctx, c, r.Params.Get("NetworkAclId")); err != nil {
		return nil, err
	}
	return ok, nil
}

func (a *API) describeNetworkAcls(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	in, err := describeInput(r, "NetworkAclId")
	if err != nil {
		return nil, err
	}
	acls, next, err := a.cp.DescribeNetworkAcls(ctx, c, in)
	if err != nil {
		return nil, err
	}
	out := &struct {
		Acls      []NetworkAclXML `xml:"networkAclSet>item"`
		NextToken string          `xml:"nextToken,omitempty"`
	}{NextToken: next}
	for _, acl := range acls {
		out.Acls = append(out.Acls, networkAclXML(acl))
	}
	return out, nil
}

func (a *API) writeNetworkAclEntry(replace bool) awsapi.Handler {
	return func(ctx context.Context, r *awsapi.Request) (any, error) {
		c, err := call(r)
		if err != nil {
			return nil, err
		}
		p := r.Params
		in := controlplane.NetworkAclEntryInput{
			NetworkAclID: p.Get("NetworkAclId"), Protocol: p.Get("Protocol"), RuleAction: p.Get("RuleAction"),
			CidrBlock: p.Get("CidrBlock"), Ipv6CidrBlock: p.Get("Ipv6CidrBlock"),
		}
		if in.RuleNumber, err = p.OptInt("RuleNumber"); err != nil {
			return nil, err
		}
		if in.Egress, err = p.Bool("Egress", false); err != nil {
			return nil, err
		}
		for _, f := range []struct {
			name string
			dst  **int
		}{{"PortRange.From", &in.PortFrom}, {"PortRange.To", &in.PortTo}, {"Icmp.Type", &in.IcmpType}, {"Icmp.Code", &in.IcmpCode}} {
			if *f.dst, err = p.OptInt(f.name); err != nil {
				return nil, err
			}
		}
		if replace {
			err = a.cp.ReplaceNetworkAclEntry(ctx, c, in)
		} else {
			err = a.cp.CreateNetworkAclEntry(ctx, c, in)
		}
		if err != nil {
			return nil, err
		}
		return ok, nil
	}
}

func (a *API) deleteNetworkAclEntry(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	n, err := r.Params.OptInt("RuleNumber")
	if err != nil {
		return nil, err
	}
	egress, err := r.Params.Bool("Egress", false)
	if err != nil {
		return nil, err
	}
	if err := a.cp.DeleteNetworkAclEntry(ctx, c, r.Params.Get("NetworkAclId"), n, egress); err != nil {
		return nil, err
	}
	return ok, nil
}

func (a *API) replaceNetworkAclAssociation(ctx context.Context, r *awsapi.Request, c *controlplane.Call) (any, error) {
	id, err := a.cp.ReplaceNetworkAclAssociation(ctx, c, r.Params.Get("AssociationId"), r.Params.Get("NetworkAclId"))
	if err != nil {
		return nil, err
	}
	return &struct {
		NewAssociationID string `xml:"newAssociationId"`
	}{id}, nil
}
