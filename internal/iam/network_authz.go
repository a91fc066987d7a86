package iam

import (
	"fmt"
	"slices"
	"sync"

	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/policy"
	"github.com/privlink/privlink/internal/store"
)

// This file evaluates calls that arrive from inside a modelled network:
// through an interface VPC endpoint (bounded by its endpoint policy, with
// aws:SourceVpce, aws:SourceVpc and aws:VpcSourceIp) or over the stand-in
// internet (aws:SourceIp).

// endpointInfo is what authorization needs of a VPC endpoint.
type endpointInfo struct {
	vpcID  string
	policy string
}

// endpointPolicies is an in-memory copy of every VPC endpoint's VPC and
// policy, kept current by a store watch (which runs under the write lock,
// so a policy change applies to the next request after its API call).
type endpointPolicies struct {
	mu  sync.RWMutex
	eps map[string]endpointInfo // by endpoint ID
}

func watchEndpoints(d *Directory) *endpointPolicies {
	ep := &endpointPolicies{eps: map[string]endpointInfo{}}
	put := func(id string, v any) {
		if e, ok := v.(*cloud.VpcEndpoint); ok && e != nil {
			ep.eps[id] = endpointInfo{vpcID: e.VpcID, policy: e.PolicyDocument}
		} else {
			delete(ep.eps, id)
		}
	}
	d.db.Watch(func(e store.Event) {
		if e.Kind != cloud.KindVpcEndpoint {
			return
		}
		ep.mu.Lock()
		put(e.ID, e.Value)
		ep.mu.Unlock()
	})
	d.db.View(func(tx *store.Tx) error {
		if !tx.HasKind(cloud.KindVpcEndpoint) {
			return nil
		}
		ep.mu.Lock()
		defer ep.mu.Unlock()
		tx.Each(cloud.KindVpcEndpoint, func(id string, v any) bool { put(id, v); return true })
		return nil
	})
	return ep
}

func (ep *endpointPolicies) get(id string) (endpointInfo, bool) {
	ep.mu.RLock()
	defer ep.mu.RUnlock()
	e, ok := ep.eps[id]
	return e, ok
}

// freeActions need no identity-based permission: AWS answers them for any
// authenticated caller, though a VPC endpoint policy can still deny them.
var freeActions = map[string]string{
	"sts:GetCallerIdentity": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}]}`,
}

// authzNetwork decides a call that entered through n.
func (a *Authorizer) authzNetwork(p *cloud.Principal, action, resource string, n cloud.NetworkContext) error {
	if p == nil {
		return deniedError(action, "anonymous", resource, "because no identity-based policy allows the "+action+" action")
	}
	set := &policy.Policies{}
	netKeys := policy.Network{SourceIP: n.SourceIP}
	if n.EndpointID != "" {
		ep, ok := a.eps.get(n.EndpointID)
		if !ok {
			// The endpoint is gone: nothing it could allow remains.
			return networkDenied(action, fmt.Sprintf("User: %s is not authorized to perform: %s because no VPC endpoint policy allows the %s action", p.ARN, action, action))
		}
		netKeys.EndpointID, netKeys.VpcID = n.EndpointID, ep.vpcID
		if ep.policy != "" {
			c, err := a.dir.compiled(ep.policy, policy.Endpoint)
			if err != nil {
				return fmt.Errorf("iam: stored policy of endpoint %s: %w", n.EndpointID, err)
			}
			set.Endpoint = []*policy.Compiled{c}
		}
	}
	if doc, free := freeActions[action]; free {
		c, err := a.dir.compiled(doc, policy.Identity)
		if err != nil {
			return fmt.Errorf("iam: built-in policy for %s: %w", action, err)
		}
		set.Identity = []*policy.Compiled{c}
	} else if !p.IsRoot() {
		ids, err := a.dir.identityPolicies(p)
		if err != nil {
			return err
		}
		set.Identity, set.Boundary, set.Session = ids.Identity, ids.Boundary, ids.Session
	}
	req := a.dir.requestFor(p, action, resource)
	req.SetNetwork(netKeys)
	res := policy.Evaluate(set, req)
	switch {
	case res.Decision == policy.Allowed:
		return nil
	case slices.Contains(res.BlockedBy, policy.TypeEndpoint):
		return networkDenied(action, res.Message)
	}
	return deniedError(action, p.ARN, resource, trimEngineMessage(res.Message, p.ARN, action, resource))
}

// trimEngineMessage keeps the reason ("because …" or "with an explicit deny
// in …") of an engine message, for deniedError's wording.
func trimEngineMessage(msg, principal, action, resource string) string {
	for _, prefix := range []string{
		fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %q ", principal, action, resource),
		fmt.Sprintf("User: %s is not authorized to perform: %s ", principal, action),
	} {
		if len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
			return msg[len(prefix):]
		}
	}
	return msg
}

// networkDenied renders an engine message with the action's service code:
// UnauthorizedOperation for EC2, AccessDenied for the awsquery services.
func networkDenied(action, msg string) error {
	if len(action) > 4 && action[:4] == "ec2:" {
		return &cloud.Error{Code: "UnauthorizedOperation", Message: "You are not authorized to perform this operation. " + msg, Status: 403}
	}
	return &cloud.Error{Code: "AccessDenied", Message: msg, Status: 403}
}
