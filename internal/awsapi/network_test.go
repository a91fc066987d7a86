package awsapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/privlink/privlink/internal/cloud"
)

type oneKey struct{}

func (oneKey) Authenticate(_ context.Context, id, _ string, _ time.Time) (string, *cloud.Principal, error) {
	if id != "AKIDEXAMPLE" {
		return "", nil, cloud.ErrUnknownAccessKey
	}
	return "s3cret", &cloud.Principal{AccountID: "222222222222", ARN: "arn:aws:iam::222222222222:root", Type: cloud.PrincipalRoot}, nil
}

// TestRequestNetwork proves the network context of the HTTP request
// reaches the handler both as Request.Network (with SourceIP) and in ctx.
func TestRequestNetwork(t *testing.T) {
	type seen struct {
		field, inCtx cloud.NetworkContext
		sourceIP     string
	}
	var got seen
	svc := &Service{Name: "sts", Protocol: ProtocolQuery, Global: true, Actions: map[string]Handler{
		"GetCallerIdentity": func(ctx context.Context, r *Request) (any, error) {
			n, _ := cloud.NetworkFrom(ctx)
			got = seen{r.Network, n, r.SourceIP}
			return nil, nil
		},
	}}
	srv := NewServer(oneKey{}, []string{"us-east-1"}, nil, svc)
	ep := cloud.NetworkContext{EndpointID: "vpce-0123456789abcdef0", SourceIP: netip.MustParseAddr("10.0.1.5")}
	cases := []struct {
		name     string
		net      cloud.NetworkContext
		sourceIP string
	}{
		{"host client", cloud.NetworkContext{}, "192.0.2.1"},
		{"through an endpoint", ep, "10.0.1.5"},
		{"over the internet", cloud.NetworkContext{SourceIP: netip.MustParseAddr("169.254.0.2")}, "169.254.0.2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := "Action=GetCallerIdentity&Version=2011-06-15"
			r := httptest.NewRequest(http.MethodPost, "http://sts.us-east-1.amazonaws.com/", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			sum := sha256.Sum256([]byte(body))
			if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "s3cret"}, r, hex.EncodeToString(sum[:]), "sts", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
			r.Body = io.NopCloser(strings.NewReader(body))
			r = r.WithContext(cloud.WithNetwork(r.Context(), tc.net))
			got = seen{}
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if got.field != tc.net || got.inCtx != tc.net || got.sourceIP != tc.sourceIP {
				t.Fatalf("handler saw %+v, want network %+v and source %s", got, tc.net, tc.sourceIP)
			}
		})
	}
}
