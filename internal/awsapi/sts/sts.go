// Package sts serves the STS Query API (2011-06-15): GetCallerIdentity, and
// the actions that identity packages add.
package sts

import (
	"context"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
)

// Xmlns is the STS response namespace.
const Xmlns = "https://sts.amazonaws.com/doc/2011-06-15/"

// NewService returns the STS service; extra holds actions implemented
// elsewhere (AssumeRole).
func NewService(extra map[string]awsapi.Handler) *awsapi.Service {
	actions := map[string]awsapi.Handler{"GetCallerIdentity": getCallerIdentity}
	for k, v := range extra {
		actions[k] = v
	}
	return &awsapi.Service{Name: "sts", Protocol: awsapi.ProtocolQuery, Xmlns: Xmlns, Global: true, Actions: actions}
}

// Authorizer decides whether a caller may perform an action
// (controlplane.Authorizer).
type Authorizer interface {
	Authorize(ctx context.Context, p *cloud.Principal, action, resource string) error
}

// GetCallerIdentity returns the GetCallerIdentity handler that asks authz
// first: no identity permission is needed, as on AWS, but a VPC endpoint
// policy on the request's path can deny it.
func GetCallerIdentity(authz Authorizer) awsapi.Handler {
	return func(ctx context.Context, r *awsapi.Request) (any, error) {
		if err := authz.Authorize(ctx, r.Caller, "sts:GetCallerIdentity", "*"); err != nil {
			return nil, err
		}
		return getCallerIdentity(ctx, r)
	}
}

func getCallerIdentity(_ context.Context, r *awsapi.Request) (any, error) {
	return &struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	}{Arn: r.Caller.ARN, UserID: r.Caller.UserID, Account: r.Caller.AccountID}, nil
}
