package controlplane

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// EndpointConnection is one row of DescribeVpcEndpointConnections: a
// consumer's endpoint as the provider of its service sees it.
type EndpointConnection struct {
	ServiceID               string
	VpcEndpointID           string
	VpcEndpointOwner        string
	VpcEndpointState        string
	CreationTimestamp       time.Time
	DNSEntries              []cloud.DNSEntry
	NetworkLoadBalancerARNs []string
	GatewayLoadBalancerARNs []string
	IPAddressType           string
	VpcEndpointConnectionID string
	VpcEndpointRegion       string
}

func connectionID(endpointID string) string {
	h := fnv.New64a()
	h.Write([]byte(endpointID))
	return fmt.Sprintf("vpce-con-0%016x", h.Sum64())
}

var connectionFilters = filterer[EndpointConnection]{
	fields: fields[EndpointConnection]{
		"service-id":          func(e *EndpointConnection) []string { return one(e.ServiceID) },
		"vpc-endpoint-owner":  func(e *EndpointConnection) []string { return one(e.VpcEndpointOwner) },
		"vpc-endpoint-id":     func(e *EndpointConnection) []string { return one(e.VpcEndpointID) },
		"vpc-endpoint-state":  func(e *EndpointConnection) []string { return one(e.VpcEndpointState) },
		"vpc-endpoint-region": func(e *EndpointConnection) []string { return one(e.VpcEndpointRegion) },
		"ip-address-type":     func(e *EndpointConnection) []string { return one(e.IPAddressType) },
	},
}

// DescribeVpcEndpointConnections lists the endpoints, of any account,
// connected to the caller's services.
func (cp *ControlPlane) DescribeVpcEndpointConnections(ctx context.Context, c *Call, filters []cloud.Filter, page Page) ([]*EndpointConnection, string, error) {
	if err := cp.checkDryRun(ctx, c); err != nil {
		return nil, "", err
	}
	keep, err := connectionFilters.compile(filters)
	if err != nil {
		return nil, "", err
	}
	var out []*EndpointConnection
	cp.db.View(func(tx *store.Tx) error {
		services := map[string]*cloud.VpcEndpointService{}
		for _, s := range listOwned[cloud.VpcEndpointService](tx, c, cloud.KindVpcEndpointService, nil) {
			services[s.ID] = s
		}
		if len(services) == 0 {
			return nil
		}
		for _, ep := range store.List[cloud.VpcEndpoint](tx, cloud.KindVpcEndpoint, func(ep *cloud.VpcEndpoint) bool { return services[ep.ServiceID] != nil }) {
			s := services[ep.ServiceID]
			row := &EndpointConnection{
				ServiceID: s.ID, VpcEndpointID: ep.ID, VpcEndpointOwner: ep.OwnerID, VpcEndpointState: ep.State,
				CreationTimestamp: ep.CreatedAt, DNSEntries: ep.DNSEntries, NetworkLoadBalancerARNs: s.NetworkLoadBalancerARNs,
				GatewayLoadBalancerARNs: s.GatewayLoadBalancerARNs, IPAddressType: ep.IPAddressType,
				VpcEndpointConnectionID: connectionID(ep.ID), VpcEndpointRegion: ep.Region,
			}
			if keep(row) {
				out = append(out, row)
			}
		}
		return nil
	})
	return paginate(out, func(e *EndpointConnection) string { return e.VpcEndpointID }, page, 5, 1000)
}

// AcceptVpcEndpointConnections accepts pendingAcceptance endpoints of the
// caller's service (they become pending; the controller makes them
// available).
func (cp *ControlPlane) AcceptVpcEndpointConnections(ctx context.Context, c *Call, serviceID string, endpointIDs []string) ([]Unsuccessful, error) {
	return cp.decideConnections(ctx, c, serviceID, endpointIDs, "Accept")
}

// RejectVpcEndpointConnections rejects endpoints of the caller's service
// that wait for acceptance or are connected.
func (cp *ControlPlane) RejectVpcEndpointConnections(ctx context.Context, c *Call, serviceID string, endpointIDs []string) ([]Unsuccessful, error) {
	return cp.decideConnections(ctx, c, serviceID, endpointIDs, "Reject")
}

func (cp *ControlPlane) decideConnections(ctx context.Context, c *Call, serviceID string, endpointIDs []string, event string) ([]Unsuccessful, error) {
	if len(endpointIDs) == 0 {
		return nil, cloud.MissingParameter("VpcEndpointId")
	}
	var failed []Unsuccessful
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		failed = nil
		svc, err := ownedService(tx, c, serviceID)
		if err != nil {
			return err
		}
		if err := cp.authorize(ctx, c, serviceARN(c, svc.ID)); err != nil {
			return err
		}
		for _, id := range endpointIDs {
			// Endpoints belong to consumers: read the store directly and
			// check that the endpoint is connected to this service.
			old, ok := store.Get[cloud.VpcEndpoint](tx, cloud.KindVpcEndpoint, id)
			if !ok || old.ServiceID != svc.ID || old.State == cloud.StateDeleted {
				failed = append(failed, unsuccessful(id, endpointNotFound(id)))
				continue
			}
			next := ""
			switch {
			case event == "Accept" && old.State == cloud.StatePendingAcceptance:
				next = cloud.StatePending
			case event == "Reject" && (old.State == cloud.StatePendingAcceptance || old.State == cloud.StatePending || old.State == cloud.StateAvailable):
				next = cloud.StateRejected
			}
			if next == "" {
				failed = append(failed, Unsuccessful{ResourceID: id, Code: "IncorrectState",
					Message: fmt.Sprintf("The VPC endpoint %s is in state %s and cannot be %sed.", id, old.State, lower(event))})
				continue
			}
			ep := store.Clone(old)
			ep.State = next
			tx.Put(cloud.KindVpcEndpoint, id, ep)
			cp.recordEvent(tx, event, ep)
		}
		return nil
	})
	return failed, err
}

func lower(s string) string {
	if s == "" {
		return s
	}
	b := []byte(s)
	if b[0] >= 'A' && b[0] <= 'Z' {
		b[0] += 'a' - 'A'
	}
	return string(b)
}

// incorrectState is the error of a transition from a state it does not
// apply to (controllers treat IncorrectState as "nothing to do").
func incorrectState(id, state, want string) *cloud.Error {
	return cloud.Errorf("IncorrectState", "The VPC endpoint %s is in state %s%s.", id, state, want)
}

// transition applies fn to endpoint id in one transaction.
func (cp *ControlPlane) transition(ctx context.Context, id string, fn func(tx *store.Tx, ep *cloud.VpcEndpoint) (bool, error)) error {
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		old, ok := store.Get[cloud.VpcEndpoint](tx, cloud.KindVpcEndpoint, id)
		if !ok {
			return endpointNotFound(id)
		}
		ep := store.Clone(old)
		changed, err := fn(tx, ep)
		if err != nil || !changed {
			return err
		}
		tx.Put(cloud.KindVpcEndpoint, id, ep)
		return nil
	})
}

// EndpointAvailable is called by the controller once the data plane carries
// an endpoint's traffic: pending → available (available stays available).
func (cp *ControlPlane) EndpointAvailable(ctx context.Context, id string) error {
	return cp.transition(ctx, id, func(_ *store.Tx, ep *cloud.VpcEndpoint) (bool, error) {
		switch ep.State {
		case cloud.StateAvailable:
			return false, nil
		case cloud.StatePending:
			ep.State, ep.StateReason, ep.LastErrorCode, ep.LastErrorMessage = cloud.StateAvailable, "", "", ""
			return true, nil
		}
		return false, incorrectState(id, ep.State, ", not pending")
	})
}

// EndpointFailed is called by the controller when an endpoint cannot be
// realized: pendingAcceptance, pending or available → failed, with reason.
func (cp *ControlPlane) EndpointFailed(ctx context.Context, id, reason string) error {
	return cp.transition(ctx, id, func(_ *store.Tx, ep *cloud.VpcEndpoint) (bool, error) {
		switch ep.State {
		case cloud.StateFailed:
			return false, nil
		case cloud.StatePendingAcceptance, cloud.StatePending, cloud.StateAvailable:
			ep.State, ep.StateReason = cloud.StateFailed, reason
			ep.LastErrorCode, ep.LastErrorMessage = "InternalError", reason
			return true, nil
		}
		return false, incorrectState(id, ep.State, "")
	})
}

// EndpointDeleted is called by the controller once a deleting endpoint's
// data plane is gone: it frees the interfaces, removes gateway routes and
// records the deletion time (deleting → deleted).
func (cp *ControlPlane) EndpointDeleted(ctx context.Context, id string) error {
	return cp.transition(ctx, id, func(tx *store.Tx, ep *cloud.VpcEndpoint) (bool, error) {
		switch ep.State {
		case cloud.StateDeleted:
			return false, nil
		case cloud.StateDeleting:
		default:
			return false, incorrectState(id, ep.State, ", not deleting")
		}
		freeEndpointInterfaces(tx, ep, nil)
		removeGatewayRoutes(tx, ep, ep.RouteTableIDs)
		ep.RouteTableIDs = nil
		ep.State, ep.PrivateDNSEnabled, ep.DNSEntries = cloud.StateDeleted, false, nil
		ep.DeletedAt = cp.now().UTC().Format(time.RFC3339Nano)
		return true, nil
	})
}

// PurgeDeletedEndpoints drops endpoints deleted before olderThan (AWS
// shows deleted endpoints for a while, then forgets them), with the
// notifications that watched them. It returns how many it dropped.
func (cp *ControlPlane) PurgeDeletedEndpoints(ctx context.Context, olderThan time.Time) (int, error) {
	n := 0
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		n = 0
		for _, ep := range store.List[cloud.VpcEndpoint](tx, cloud.KindVpcEndpoint, func(ep *cloud.VpcEndpoint) bool { return ep.State == cloud.StateDeleted }) {
			at, err := time.Parse(time.RFC3339Nano, ep.DeletedAt)
			if err != nil || !at.Before(olderThan) {
				continue
			}
			tx.Delete(cloud.KindVpcEndpoint, ep.ID)
			for _, nf := range store.List[cloud.ConnectionNotification](tx, cloud.KindConnectionNotification, func(nf *cloud.ConnectionNotification) bool { return nf.VpcEndpointID == ep.ID }) {
				tx.Delete(cloud.KindConnectionNotification, nf.ID)
			}
			n++
		}
		return nil
	})
	return n, err
}
