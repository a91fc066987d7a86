package sts

import (
	"context"
	"time"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/iam"
)

// RoleAssumer creates role sessions (iam.Directory).
type RoleAssumer interface {
	AssumeRole(ctx context.Context, caller *cloud.Principal, in iam.AssumeRoleInput) (*iam.Session, error)
}

// AssumeRole returns the sts:AssumeRole handler over dir. Session tags,
// SourceIdentity, MFA and managed session policies (PolicyArns) are not
// supported and are refused rather than ignored.
func AssumeRole(dir RoleAssumer) awsapi.Handler {
	return func(ctx context.Context, r *awsapi.Request) (any, error) {
		p := r.Params
		for _, unsupported := range []string{"Tags", "TransitiveTagKeys", "PolicyArns", "SerialNumber", "TokenCode", "SourceIdentity", "ProvidedContexts"} {
			if p.Has(unsupported) || len(p.Structs(unsupported)) > 0 || len(p.List(unsupported)) > 0 {
				return nil, cloud.Errorf("ValidationError", "privlink does not support the %s parameter of AssumeRole.", unsupported)
			}
		}
		duration := 0
		if p.Has("DurationSeconds") {
			v, err := p.Int("DurationSeconds", 0)
			if err != nil {
				return nil, cloud.Errorf("ValidationError", "1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must be a number", p.Get("DurationSeconds"))
			}
			if v == 0 {
				return nil, cloud.Errorf("ValidationError", "1 validation error detected: Value '0' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900")
			}
			duration = v
		}
		s, err := dir.AssumeRole(ctx, r.Caller, iam.AssumeRoleInput{
			RoleARN: p.Get("RoleArn"), SessionName: p.Get("RoleSessionName"), DurationSeconds: duration,
			Policy: p.Get("Policy"), ExternalID: p.Get("ExternalId"), SourceIP: r.SourceIP,
		})
		if err != nil {
			return nil, err
		}
		out := &assumeRoleResult{}
		out.Credentials.AccessKeyID = s.Key.ID
		out.Credentials.SecretAccessKey = s.Key.Secret
		out.Credentials.SessionToken = s.Key.SessionToken
		out.Credentials.Expiration = s.Key.Expiration.UTC().Format(time.RFC3339)
		out.AssumedRoleUser.AssumedRoleID = s.AssumedRoleID
		out.AssumedRoleUser.Arn = s.ARN
		if s.PackedPolicySize >= 0 {
			out.PackedPolicySize = &s.PackedPolicySize
		}
		return out, nil
	}
}

type assumeRoleResult struct {
	Credentials struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		SessionToken    string `xml:"SessionToken"`
		Expiration      string `xml:"Expiration"`
	} `xml:"Credentials"`
	AssumedRoleUser struct {
		AssumedRoleID string `xml:"AssumedRoleId"`
		Arn           string `xml:"Arn"`
	} `xml:"AssumedRoleUser"`
	PackedPolicySize *int `xml:"PackedPolicySize,omitempty"`
}
