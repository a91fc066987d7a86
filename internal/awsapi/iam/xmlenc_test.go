package iam

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/awsapi"
	"github.com/privlink/privlink/internal/awsapi/sts"
	"github.com/privlink/privlink/internal/awsapi/xmlenc"
	"github.com/privlink/privlink/internal/awsapi/xmlenc/xmlenctest"
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/config"
	"github.com/privlink/privlink/internal/iam"
	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/bolt"
)

// TestXMLShapesMatchEncodingXML fills every named IAM response shape with
// random values: the fast encoder must write what encoding/xml writes, and
// must not fall back for any of them.
func TestXMLShapesMatchEncodingXML(t *testing.T) {
	xmlenctest.CheckTypes(t,
		reflect.TypeFor[xmlUser](), reflect.TypeFor[xmlKeyMetadata](), reflect.TypeFor[xmlRole](), reflect.TypeFor[roleResult](),
		reflect.TypeFor[tagList](), reflect.TypeFor[xmlTag](), reflect.TypeFor[stringList](), reflect.TypeFor[simulateResult](),
		reflect.TypeFor[xmlEvalResult](), reflect.TypeFor[xmlResourceResult](), reflect.TypeFor[statementList](),
		reflect.TypeFor[xmlStatement](), reflect.TypeFor[xmlPosition](), reflect.TypeFor[xmlDetails](), reflect.TypeFor[xmlEntry](),
		reflect.TypeFor[xmlBoundaryDetail](),
	)
}

const trustPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}]}`

const s3Policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1"}}}]}`

const assumePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`

// allowAll lets GetCallerIdentity through.
type allowAll struct{}

func (allowAll) Authorize(context.Context, *cloud.Principal, string, string) error { return nil }

// TestHandlerBodiesMatchEncodingXML checks the bodies the IAM and STS
// handlers really return, whose wrapper types are declared inside the
// handlers: a user, a key, a role with policies, a simulation and a role
// session, then every action with their names. Each body is compared as
// returned, then its type is filled with random values.
func TestHandlerBodiesMatchEncodingXML(t *testing.T) {
	dir := newDirectory(t)
	services := map[string]*awsapi.Service{
		"iam": NewService(dir),
		"sts": sts.NewService(map[string]awsapi.Handler{"AssumeRole": sts.AssumeRole(dir), "GetCallerIdentity": sts.GetCallerIdentity(allowAll{})}),
	}
	root := &cloud.Principal{AccountID: "111111111111", Type: cloud.PrincipalRoot, ARN: cloud.AccountRootARN("111111111111"), UserID: "111111111111"}
	caller, alice := root, root
	call := func(action string, p awsapi.Params) (any, error) {
		svc, name, _ := strings.Cut(action, ":")
		return services[svc].Actions[name](context.Background(), &awsapi.Request{Service: svc, Action: name, Params: p, Caller: caller, Region: "us-east-1"})
	}
	var enc xmlenc.Encoder
	checked := map[reflect.Type]bool{}
	answered := map[string]bool{}
	check := func(action string, out any) {
		answered[action] = true
		if typ := reflect.TypeOf(out); !checked[typ] {
			checked[typ] = true
			xmlenctest.CheckBody(t, &enc, out, false, uint64(len(checked)), 200)
		} else if err := xmlenctest.Compare(&enc, out); err != nil {
			t.Fatalf("%s: %v", action, err)
		}
	}
	const tricky = "a<b>&\"c'\t\n\r\x01\xff é"
	for _, c := range []struct {
		action string
		params awsapi.Params
	}{
		{"iam:CreateUser", awsapi.Params{"UserName": "alice", "Path": "/team/", "Tags.member.1.Key": "k", "Tags.member.1.Value": tricky}},
		{"iam:CreateAccessKey", awsapi.Params{"UserName": "alice"}},
		{"iam:CreateRole", awsapi.Params{"RoleName": "app", "AssumeRolePolicyDocument": trustPolicy, "Description": "app & co",
			"Tags.member.1.Key": "k", "Tags.member.1.Value": tricky}},
		{"iam:PutRolePolicy", awsapi.Params{"RoleName": "app", "PolicyName": "s3", "PolicyDocument": s3Policy}},
		{"iam:PutUserPolicy", awsapi.Params{"UserName": "alice", "PolicyName": "s3", "PolicyDocument": s3Policy}},
		{"iam:PutUserPolicy", awsapi.Params{"UserName": "alice", "PolicyName": "assume", "PolicyDocument": assumePolicy}},
		{"iam:SimulateCustomPolicy", awsapi.Params{"PolicyInputList.member.1": s3Policy, "ActionNames.member.1": "s3:GetObject",
			"ActionNames.member.2": "s3:PutObject", "ResourceArns.member.1": "arn:aws:s3:::b/k"}},
		{"sts:AssumeRole", awsapi.Params{"RoleArn": "arn:aws:iam::111111111111:role/app", "RoleSessionName": "session"}},
		{"sts:GetCallerIdentity", awsapi.Params{}},
	} {
		// Roles are assumed by users, not by the root.
		caller = root
		if c.action == "sts:AssumeRole" {
			caller = alice
		}
		out, err := call(c.action, c.params)
		if err != nil {
			t.Fatalf("%s: %v", c.action, err)
		}
		if out != nil {
			check(c.action, out)
		}
		if c.action == "iam:CreateAccessKey" {
			key := reflect.ValueOf(out).Elem().FieldByName("AccessKey").FieldByName("AccessKeyID").String()
			if alice, err = dir.PrincipalForKey(key); err != nil {
				t.Fatal(err)
			}
		}
	}
	caller = root
	all := awsapi.Params{"UserName": "alice", "RoleName": "app", "PolicyName": "s3", "PolicySourceArn": "arn:aws:iam::111111111111:role/app",
		"ActionNames.member.1": "s3:GetObject", "RoleArn": "arn:aws:iam::111111111111:role/app", "RoleSessionName": "other"}
	var actions []string
	for svc, s := range services {
		for name := range s.Actions {
			actions = append(actions, svc+":"+name)
		}
	}
	// Reads first, deletions last.
	slices.SortFunc(actions, func(x, y string) int {
		return strings.Compare(sortKey(x), sortKey(y))
	})
	for _, action := range actions {
		for _, p := range []awsapi.Params{{}, all} {
			if out, err := call(action, p); err == nil && out != nil {
				check(action, out)
			}
		}
	}
	for _, action := range actions {
		if _, name, _ := strings.Cut(action, ":"); (strings.HasPrefix(name, "List") || strings.HasPrefix(name, "Get")) && !answered[action] {
			t.Errorf("no body checked for %s", action)
		}
	}
	t.Logf("checked %d body types from %d actions", len(checked), len(answered))
}

func sortKey(action string) string {
	_, name, _ := strings.Cut(action, ":")
	switch {
	case strings.HasPrefix(name, "Get"), strings.HasPrefix(name, "List"), strings.HasPrefix(name, "Simulate"):
		return "0" + action
	case strings.HasPrefix(name, "Delete"), strings.HasPrefix(name, "Untag"):
		return "2" + action
	}
	return "1" + action
}

func newDirectory(t *testing.T) *iam.Directory {
	t.Helper()
	b, err := bolt.Open(t.TempDir() + "/state.db")
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), b, iam.Kinds(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg, err := config.Parse([]byte(`
accounts:
  - id: "111111111111"
    access_keys: [{id: AKIAXMLENC0000000001, secret: s}]
`))
	if err != nil {
		t.Fatal(err)
	}
	dir := iam.New(db, nil)
	if _, err := dir.Bootstrap(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return dir
}
