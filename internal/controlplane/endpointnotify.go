package controlplane

import (
	"context"
	"strings"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// connectionEvents are the events a connection notification may watch.
var connectionEvents = []string{"Connect", "Accept", "Reject", "Delete"}

func notificationNotFound(id string) *cloud.Error {
	return cloud.Errorf("InvalidConnectionNotification", "The connection notification '%s' does not exist", id)
}

// validateNotification checks a destination (an SNS topic ARN) and events.
func validateNotification(arn string, events []string) error {
	if arn == "" {
		return cloud.MissingParameter("ConnectionNotificationArn")
	}
	a, err := cloud.ParseARN(arn)
	if err != nil || a.Service != "sns" || a.Region == "" || !cloud.IsAccountID(a.Account) || a.Resource == "" || strings.Contains(a.Resource, ":") {
		return cloud.InvalidParameterValue("ConnectionNotificationArn", arn, "It must be the ARN of an SNS topic.")
	}
	if len(events) == 0 {
		return cloud.MissingParameter("ConnectionEvents")
	}
	for _, e := range events {
		if !contains1(connectionEvents, e) {
			return cloud.InvalidParameterValue("ConnectionEvents", e, "Valid values: Connect, Accept, Reject, Delete.")
		}
	}
	return nil
}

func dedupe(list []string) []string {
	var out []string
	for _, v := range list {
		if !contains1(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// CreateNotificationInput is CreateVpcEndpointConnectionNotification's parameters.
type CreateNotificationInput struct {
	ServiceID     string
	VpcEndpointID string
	ARN           string
	Events        []string
	ClientToken   string
}

// CreateVpcEndpointConnectionNotification watches the caller's service or
// endpoint for connection events.
func (cp *ControlPlane) CreateVpcEndpointConnectionNotification(ctx context.Context, c *Call, in CreateNotificationInput) (*cloud.ConnectionNotification, error) {
	if (in.ServiceID == "") == (in.VpcEndpointID == "") {
		return nil, cloud.Errorf("InvalidParameter", "Specify exactly one of ServiceId and VpcEndpointId.")
	}
	if err := validateNotification(in.ARN, in.Events); err != nil {
		return nil, err
	}
	if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "vpc-endpoint-connection-notification", "*")); err != nil {
		return nil, err
	}
	var n *cloud.ConnectionNotification
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		if id, err := idempotent(tx, c, in.ClientToken, in); err != nil || id != "" {
			if err == nil {
				n, _ = store.Get[cloud.ConnectionNotification](tx, cloud.KindConnectionNotification, id)
			}
			return err
		}
		if in.ServiceID != "" {
			if _, err := ownedService(tx, c, in.ServiceID); err != nil {
				return err
			}
		} else {
			ep := getOwned[cloud.VpcEndpoint](tx, c, cloud.KindVpcEndpoint, in.VpcEndpointID)
			if ep == nil || ep.State == cloud.StateDeleted {
				return endpointNotFound(in.VpcEndpointID)
			}
		}
		id := cloud.NewID("vpce-nfn")
		n = &cloud.ConnectionNotification{
			Meta: cp.newMeta(c, id, nil), ServiceID: in.ServiceID, VpcEndpointID: in.VpcEndpointID,
			ARN: in.ARN, Events: dedupe(in.Events), State: "Enabled", Type: "Topic",
		}
		tx.Put(cloud.KindConnectionNotification, id, n)
		cp.rememberToken(tx, c, in.ClientToken, in, id)
		return nil
	})
	return n, err
}

var notificationFilters = filterer[cloud.ConnectionNotification]{
	fields: fields[cloud.ConnectionNotification]{
		"connection-notification-arn":   func(n *cloud.ConnectionNotification) []string { return one(n.ARN) },
		"connection-notification-id":    func(n *cloud.ConnectionNotification) []string { return one(n.ID) },
		"connection-notification-state": func(n *cloud.ConnectionNotification) []string { return one(n.State) },
		"connection-notification-type":  func(n *cloud.ConnectionNotification) []string { return one(n.Type) },
		"service-id":                    func(n *cloud.ConnectionNotification) []string { return one(n.ServiceID) },
		"vpc-endpoint-id":               func(n *cloud.ConnectionNotification) []string { return one(n.VpcEndpointID) },
	},
}

// DescribeVpcEndpointConnectionNotifications lists the caller's notifications.
func (cp *ControlPlane) DescribeVpcEndpointConnectionNotifications(ctx context.Context, c *Call, id string, filters []cloud.Filter, page Page) ([]*cloud.ConnectionNotification, string, error) {
	in := DescribeInput{Filters: filters, Page: page}
	if id != "" {
		in.IDs = []string{id}
	}
	out, next, err := describe(ctx, cp, c, in, cloud.KindConnectionNotification, notificationFilters, "InvalidConnectionNotification", "connection notification", func(n *cloud.ConnectionNotification) string { return n.ID })
	return out, next, err
}

// ModifyVpcEndpointConnectionNotification changes a notification's
// destination or events.
func (cp *ControlPlane) ModifyVpcEndpointConnectionNotification(ctx context.Context, c *Call, id, arn string, events []string) error {
	if id == "" {
		return cloud.MissingParameter("ConnectionNotificationId")
	}
	return cp.db.Update(ctx, func(tx *store.Tx) error {
		old := getOwned[cloud.ConnectionNotification](tx, c, cloud.KindConnectionNotification, id)
		if old == nil {
			return notificationNotFound(id)
		}
		if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "vpc-endpoint-connection-notification", id)); err != nil {
			return err
		}
		n := store.Clone(old)
		if arn != "" {
			n.ARN = arn
		}
		if len(events) > 0 {
			n.Events = dedupe(events)
		}
		if err := validateNotification(n.ARN, n.Events); err != nil {
			return err
		}
		tx.Put(cloud.KindConnectionNotification, id, n)
		return nil
	})
}

// DeleteVpcEndpointConnectionNotifications deletes notifications, reporting
// unknown IDs per item.
func (cp *ControlPlane) DeleteVpcEndpointConnectionNotifications(ctx context.Context, c *Call, ids []string) ([]Unsuccessful, error) {
	if len(ids) == 0 {
		return nil, cloud.MissingParameter("ConnectionNotificationId")
	}
	var failed []Unsuccessful
	err := cp.db.Update(ctx, func(tx *store.Tx) error {
		failed = nil
		for _, id := range ids {
			if getOwned[cloud.ConnectionNotification](tx, c, cloud.KindConnectionNotification, id) == nil {
				failed = append(failed, unsuccessful(id, notificationNotFound(id)))
				continue
			}
			if err := cp.authorize(ctx, c, cloud.EC2ARN(c.Region, c.Account(), "vpc-endpoint-connection-notification", id)); err != nil {
				return err
			}
			tx.Delete(cloud.KindConnectionNotification, id)
		}
		return nil
	})
	return failed, err
}

// recordEvent records, in the caller's transaction, one EndpointEvent per
// enabled notification that watches the event on the endpoint or on its
// service. Delivery (to the topic) is the notification controller's.
func (cp *ControlPlane) recordEvent(tx *store.Tx, event string, ep *cloud.VpcEndpoint) {
	tx.Each(cloud.KindConnectionNotification, func(_ string, v any) bool {
		n := v.(*cloud.ConnectionNotification)
		watches := (n.ServiceID != "" && n.ServiceID == ep.ServiceID) || (n.VpcEndpointID != "" && n.VpcEndpointID == ep.ID)
		if !watches || n.State != "Enabled" || !contains1(n.Events, event) {
			return true
		}
		id := cloud.NewID("vpce-evt")
		tx.Put(cloud.KindEndpointEvent, id, &cloud.EndpointEvent{
			Meta:           cloud.Meta{ID: id, OwnerID: n.OwnerID, Region: n.Region, CreatedAt: cp.now().UTC()},
			NotificationID: n.ID, Event: event, ServiceID: ep.ServiceID, VpcEndpointID: ep.ID,
			EndpointOwner: ep.OwnerID, State: ep.State,
		})
		return true
	})
}
