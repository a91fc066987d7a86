// Package harness is what the benchmark programs under bench/ share: an
// in-process privlink server with a provider and a consumer account, Go SDK
// clients for them, latency percentiles and a concurrent load loop. It is
// for benchmarks only; it never asserts on time.
package harness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/privlink/privlink/internal/config"
	"github.com/privlink/privlink/internal/server"
)

// Config has an organization of a provider and a consumer account.
const Config = `
regions: [us-east-1]
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
`

// Creds is an access key pair of Config.
type Creds struct{ ID, Secret string }

// The accounts of Config.
var (
	Provider = Creds{"AKIAPROVIDER00000001", "provider-secret"}
	Consumer = Creds{"AKIACONSUMER00000001", "consumer-secret"}
)

// ConsumerRoot is the consumer account's root principal.
const ConsumerRoot = "arn:aws:iam::222222222222:root"

// Start runs a server on a free loopback port with its state in a fresh
// temporary directory; stop closes it and removes the directory.
func Start(ctx context.Context, sc server.Config) (srv *server.Server, stop func(), err error) {
	cfg, err := config.Parse([]byte(Config))
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "privlink-bench-")
	if err != nil {
		return nil, nil, err
	}
	sc.Listen, sc.DataDir, sc.Config = "127.0.0.1:0", dir, cfg
	srv, err = server.Start(ctx, sc)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return srv, func() { srv.Close(); os.RemoveAll(dir) }, nil
}

// Clients are one account's SDK clients.
type Clients struct {
	EC2   *ec2.Client
	ELBv2 *elbv2.Client
	STS   *sts.Client
}

// NewClients builds SDK clients for c against srv. conns sizes the HTTP
// connection pool (at least the number of concurrent callers). Retries are
// off: a benchmark must see every error.
func NewClients(srv *server.Server, c Creds, conns int) Clients {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = conns*2, conns*2
	cfg := aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(c.ID, c.Secret, ""),
		BaseEndpoint:     aws.String(srv.Endpoint()),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Transport: tr},
	}
	return Clients{EC2: ec2.NewFromConfig(cfg), ELBv2: elbv2.NewFromConfig(cfg), STS: sts.NewFromConfig(cfg)}
}

// Latencies is a set of measured durations.
type Latencies []time.Duration

// Pct returns the p-quantile (0 < p <= 1), nearest rank.
func (l Latencies) Pct(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.5) - 1
	return s[max(0, min(len(s)-1, i))]
}

// Load is the outcome of a load phase.
type Load struct {
	Ops     int
	Elapsed time.Duration
	Lat     Latencies
}

// Rate is operations per second.
func (r Load) Rate() float64 { return float64(r.Ops) / r.Elapsed.Seconds() }

// Run runs op from n workers, either for duration d (count <= 0) or until
// count operations in total have been done; op gets the operation's
// sequence number. The first error stops the phase.
func Run(ctx context.Context, n, count int, d time.Duration, op func(ctx context.Context, seq int) error) (Load, error) {
	// Operations get ctx itself: a context canceled when the phase ends
	// would reach back into connections the HTTP transport has pooled.
	var next atomic.Int64
	var stopped atomic.Bool
	var mu sync.Mutex
	var all Latencies
	var firstErr error
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			var mine Latencies
			defer func() { mu.Lock(); all = append(all, mine...); mu.Unlock() }()
			for !stopped.Load() && ctx.Err() == nil {
				seq := int(next.Add(1) - 1)
				if count > 0 && seq >= count || count <= 0 && time.Now().After(deadline) {
					return
				}
				t0 := time.Now()
				if err := op(ctx, seq); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("operation %d: %w", seq, err)
					}
					mu.Unlock()
					stopped.Store(true)
					return
				}
				mine = append(mine, time.Since(t0))
			}
		})
	}
	wg.Wait()
	return Load{Ops: len(all), Elapsed: time.Since(start), Lat: all}, firstErr
}

// Eventually polls cond every interval until it holds or d passes.
func Eventually(what string, d, interval time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(d)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s (last error: %v)", d, what, last)
		}
		time.Sleep(interval)
	}
}

// Verdict spells whether a target was met.
func Verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// Header prints when and where a benchmark runs.
func Header(name string, args []string) {
	host, _ := os.Hostname()
	fmt.Printf("%s — %s — host %s — %s\n", name, time.Now().UTC().Format(time.RFC3339), host, strings.Join(args, " "))
}

// Ms formats a duration in milliseconds with two decimals.
func Ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

// Us formats a duration in microseconds with one decimal.
func Us(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d)/1e3) }

// Raw is a minimal SigV4 Query client without the SDK's response decoding:
// it measures the server and the wire, not the client library.
type Raw struct {
	endpoint string
	http     *http.Client
	signer   *v4.Signer
	creds    aws.Credentials
}

// NewRaw builds a Raw client for c against srv.
func NewRaw(srv *server.Server, c Creds, conns int) *Raw {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = conns*2, conns*2
	return &Raw{endpoint: srv.Endpoint(), http: &http.Client{Transport: tr}, signer: v4.NewSigner(),
		creds: aws.Credentials{AccessKeyID: c.ID, SecretAccessKey: c.Secret}}
}

// Call posts a signed Query request and returns the response body's size.
func (r *Raw) Call(ctx context.Context, service string, params url.Values) (int, error) {
	body := params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint+"/", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	if err := r.signer.SignHTTP(ctx, r.creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
		return 0, err
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return int(n), fmt.Errorf("%s: HTTP %d", params.Get("Action"), resp.StatusCode)
	}
	return int(n), err
}
