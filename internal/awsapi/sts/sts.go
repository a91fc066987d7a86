// Package sts serves the STS Query API (2011-06-15): GetCallerIdentity, and
// the actions that identity packages add.
package sts

import (
	"context"

	"github.com/privlink/privlink/internal/awsapi"
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

func getCallerIdentity(_ context.Context, r *awsapi.Request) (any, error) {
	return &struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	}{Arn: r.Caller.ARN, UserID: r.Caller.UserID, Account: r.Caller.AccountID}, nil
}
