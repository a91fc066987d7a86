// Package e2e drives a real privlink server with real clients: the Go SDK
// here, and the AWS CLI and boto3 through the scripts beside this file.
package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/privlink/privlink/internal/config"
	"github.com/privlink/privlink/internal/server"
)

// testConfig has an organization of a provider and a consumer, and an
// outsider account that belongs to no organization.
const testConfig = `
regions: [us-east-1, eu-west-1]
organizations:
  - id: o-a1b2c3d4e5
    accounts: ["111111111111", "222222222222"]
accounts:
  - id: "111111111111"
    name: provider
    access_keys:
      - id: AKIAPROVIDER00000001
        secret: provider-secret
  - id: "222222222222"
    name: consumer
    access_keys:
      - id: AKIACONSUMER00000001
        secret: consumer-secret
  - id: "333333333333"
    name: outsider
    access_keys:
      - id: AKIAOUTSIDER00000001
        secret: outsider-secret
`

// Account key pairs of testConfig.
var (
	provider = creds{"AKIAPROVIDER00000001", "provider-secret"}
	consumer = creds{"AKIACONSUMER00000001", "consumer-secret"}
	outsider = creds{"AKIAOUTSIDER00000001", "outsider-secret"}
)

type creds struct{ id, secret string }

// startServer runs a privlink server on a free loopback port with its data
// in dir (a fresh temp dir when empty).
func startServer(t *testing.T, dir string) *server.Server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg, err := config.Parse([]byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	// API-level tests never touch the kernel; the data-plane tests start
	// their own servers with a unique prefix.
	srv, err := server.Start(context.Background(), server.Config{Listen: "127.0.0.1:0", DataDir: dir, Config: cfg, DataPlane: server.DataPlaneOff})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func awsConfig(srv *server.Server, c creds, region string) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(c.id, c.secret, ""),
		BaseEndpoint: aws.String(srv.Endpoint()),
		// Errors must surface at once: the tests assert on them.
		RetryMaxAttempts: 1,
	}
}

// clients bundles the SDK clients of one account.
type clients struct {
	EC2   *ec2.Client
	STS   *sts.Client
	IAM   *iam.Client
	ELBv2 *elbv2.Client
}

func newClients(srv *server.Server, c creds) clients { return newClientsAt(srv.Endpoint(), c) }

// newClientsAt builds clients for a server reached at endpoint (a URL).
func newClientsAt(endpoint string, c creds) clients {
	cfg := aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(c.id, c.secret, ""),
		BaseEndpoint:     aws.String(endpoint),
		RetryMaxAttempts: 1,
	}
	return clients{EC2: ec2.NewFromConfig(cfg), STS: sts.NewFromConfig(cfg), IAM: iam.NewFromConfig(cfg), ELBv2: elbv2.NewFromConfig(cfg)}
}

// errCode returns the AWS error code of err ("" if none).
func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// wantCode fails the test unless err carries the AWS error code want.
func wantCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := errCode(err); got != want {
		t.Fatalf("error = %v (code %q), want code %q", err, got, want)
	}
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, _ := os.Getwd()
	return filepath.Join(wd, "..", "..")
}

func staticCreds(c creds) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(c.id, c.secret, "")
}
