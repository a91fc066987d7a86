// Command api is the control-plane load benchmark: N concurrent SigV4
// clients drive a privlink server started in-process (or --endpoint), and it
// prints throughput and latency with ratios against a baseline measured in
// the same run: GetCallerIdentity, the cheapest signed call (auth + routing +
// XML, no store work).
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/privlink/privlink/internal/config"
	"github.com/privlink/privlink/internal/server"
)

const benchConfig = `
regions: [us-east-1]
accounts:
  - id: "111111111111"
    access_keys: [{id: AKIABENCH00000000001, secret: bench-secret}]
`

type client struct {
	endpoint string
	http     *http.Client
	signer   *v4.Signer
	creds    aws.Credentials
}

func (c *client) call(ctx context.Context, service string, params url.Values) (string, error) {
	body := params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	if err := c.signer.SignHTTP(ctx, c.creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
		return "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("%s: HTTP %d: %s", params.Get("Action"), resp.StatusCode, data)
	}
	return string(data), err
}

type result struct {
	ops       int64
	elapsed   time.Duration
	latencies []time.Duration
}

func (r result) rate() float64 { return float64(r.ops) / r.elapsed.Seconds() }

func (r result) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
	return r.latencies[min(len(r.latencies)-1, int(float64(len(r.latencies))*p))]
}

// load runs op from n workers for d and records every latency.
func load(ctx context.Context, n int, d time.Duration, op func(worker, i int) error) (result, error) {
	var ops atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	var once sync.Once
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var mine []time.Duration
			for i := 0; time.Now().Before(deadline); i++ {
				t0 := time.Now()
				if err := op(w, i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				mine = append(mine, time.Since(t0))
				ops.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	return result{ops: ops.Load(), elapsed: time.Since(start), latencies: lat}, firstErr
}

var idPattern = regexp.MustCompile(`<vpcId>(vpc-[0-9a-f]+)</vpcId>`)

func main() {
	endpoint := flag.String("endpoint", "", "privlink endpoint (default: start one in-process)")
	clients := flag.Int("clients", 32, "concurrent clients")
	duration := flag.Duration("duration", 5*time.Second, "length of each throughput phase")
	subnets := flag.Int("subnets", 10000, "subnets to create for the filtered-describe phase")
	flag.Parse()
	ctx := context.Background()

	if *endpoint == "" {
		cfg, err := config.Parse([]byte(benchConfig))
		if err != nil {
			fail(err)
		}
		dir, _ := os.MkdirTemp("", "privlink-bench-")
		defer os.RemoveAll(dir)
		srv, err := server.Start(ctx, server.Config{Listen: "127.0.0.1:0", DataDir: dir, Config: cfg, DataPlane: server.DataPlaneOff})
		if err != nil {
			fail(err)
		}
		defer srv.Close()
		*endpoint = srv.Endpoint()
	}
	transport := &http.Transport{MaxIdleConnsPerHost: *clients * 2, MaxConnsPerHost: *clients * 2}
	c := &client{endpoint: *endpoint, http: &http.Client{Transport: transport}, signer: v4.NewSigner(),
		creds: aws.Credentials{AccessKeyID: "AKIABENCH00000000001", SecretAccessKey: "bench-secret"}}

	fmt.Printf("privlink API benchmark: %d clients, %s per phase, endpoint %s\n\n", *clients, *duration, *endpoint)

	base, err := load(ctx, *clients, *duration, func(int, int) error {
		_, err := c.call(ctx, "sts", url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}})
		return err
	})
	check(err)
	report("GetCallerIdentity (baseline)", base, base)

	out, err := c.call(ctx, "ec2", url.Values{"Action": {"CreateVpc"}, "Version": {"2016-11-15"}, "CidrBlock": {"10.0.0.0/16"}})
	check(err)
	vpc := idPattern.FindStringSubmatch(out)[1]

	dv, err := load(ctx, *clients, *duration, func(int, int) error {
		_, err := c.call(ctx, "ec2", url.Values{"Action": {"DescribeVpcs"}, "Version": {"2016-11-15"}})
		return err
	})
	check(err)
	report("DescribeVpcs", dv, base)
	target("DescribeVpcs/s", dv.rate(), 3000)

	// CreateSubnet: /28s carved round-robin from a pool of 64 /16 VPCs; one
	// counter shared by all workers (and the fill below) keeps every CIDR
	// unique however many subnets a worker creates.
	vpcs := make([]string, 0, 64)
	for i := 0; i < 64; i++ {
		out, err := c.call(ctx, "ec2", url.Values{"Action": {"CreateVpc"}, "Version": {"2016-11-15"}, "CidrBlock": {fmt.Sprintf("10.%d.0.0/16", i)}})
		check(err)
		vpcs = append(vpcs, idPattern.FindStringSubmatch(out)[1])
	}
	// Every subnet carries a tag team=t0..t99, so the tag filter below
	// matches 1% of them however many the timed phase created.
	var nextSubnet atomic.Int64
	createSubnet := func() error {
		k := int(nextSubnet.Add(1) - 1)
		v, n := k%len(vpcs), k/len(vpcs)
		if n >= 4096 {
			return fmt.Errorf("subnet pool exhausted after %d subnets", k)
		}
		_, err := c.call(ctx, "ec2", url.Values{"Action": {"CreateSubnet"}, "Version": {"2016-11-15"}, "VpcId": {vpcs[v]},
			"CidrBlock":                       {fmt.Sprintf("10.%d.%d.%d/28", v, n/16, (n%16)*16)},
			"TagSpecification.1.ResourceType": {"subnet"}, "TagSpecification.1.Tag.1.Key": {"team"},
			"TagSpecification.1.Tag.1.Value": {fmt.Sprintf("t%d", k%100)}})
		return err
	}
	cs, err := load(ctx, *clients, *duration, func(w, i int) error { return createSubnet() })
	check(err)
	report("CreateSubnet (tagged)", cs, base)
	target("CreateSubnet/s", cs.rate(), 1000)

	// DescribeSubnets filtered by tag among many subnets.
	have := int(nextSubnet.Load())
	for i := have; i < *subnets; i++ {
		check(createSubnet())
	}
	total := int(nextSubnet.Load())
	ds, err := load(ctx, *clients, *duration, func(w, i int) error {
		out, err := c.call(ctx, "ec2", url.Values{"Action": {"DescribeSubnets"}, "Version": {"2016-11-15"},
			"Filter.1.Name": {"tag:team"}, "Filter.1.Value.1": {fmt.Sprintf("t%d", (w+i)%100)}})
		if n := strings.Count(out, "<subnetId>"); err == nil && n < total/100 {
			err = fmt.Errorf("tag filter matched %d subnets, want at least %d", n, total/100)
		}
		return err
	})
	check(err)
	report(fmt.Sprintf("DescribeSubnets tag filter (~%d of %d subnets)", total/100, total), ds, base)
	fmt.Printf("  target p99 <= 50ms: %s\n", verdict(ds.pct(0.99) <= 50*time.Millisecond))
	_ = vpc
}

func report(name string, r, base result) {
	fmt.Printf("%-45s %9.0f ops/s  p50 %7s  p99 %7s  ratio to baseline %.2f\n", name, r.rate(),
		r.pct(0.50).Round(10*time.Microsecond), r.pct(0.99).Round(10*time.Microsecond), r.rate()/base.rate())
}

func target(what string, got, want float64) {
	fmt.Printf("  target %s >= %.0f: %s\n", what, want, verdict(got >= want))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func check(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
