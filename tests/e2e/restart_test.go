package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// TestMain removes the privlink binary the tests built, if any.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildOnce.path != "" {
		os.RemoveAll(filepath.Dir(buildOnce.path))
	}
	os.Exit(code)
}

// buildOnce compiles cmd/privlink once per test binary run.
var buildOnce struct {
	sync.Once
	path string
	err  error
}

func privlinkBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "privlink-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "privlink")
		cmd := exec.Command("go", "build", "-o", buildOnce.path, "./cmd/privlink")
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// process is a privlink server running as its own process.
type process struct {
	cmd  *exec.Cmd
	addr string
}

func startProcess(t *testing.T, bin, dataDir, addr string) *process {
	t.Helper()
	cfgPath := filepath.Join(dataDir, "..", filepath.Base(dataDir)+".yaml")
	if err := os.WriteFile(cfgPath, []byte(testConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "server", "--listen", addr, "--data-dir", dataDir, "--config", cfgPath, "--log-level", "warn", "--dataplane", "off")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, addr: addr}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/_privlink/health")
		if err == nil {
			resp.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("server at %s did not come up: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func processClient(addr string, c creds) *ec2.Client {
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), RetryMaxAttempts: 1}
	cfg.Credentials = staticCreds(c)
	return ec2.NewFromConfig(cfg)
}

// TestRestartKeepsAcknowledgedWrites kills the server with SIGKILL while
// clients are writing, restarts it, and checks that every acknowledged VPC
// is there with all the resources created with it (nothing half-written).
func TestRestartKeepsAcknowledgedWrites(t *testing.T) {
	bin := privlinkBinary(t)
	root := t.TempDir()
	dataDir := filepath.Join(root, "data")
	addr := freePort(t)
	p := startProcess(t, bin, dataDir, addr)
	client := processClient(addr, provider)
	ctx := context.Background()

	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				out, err := client.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
				if err != nil {
					return // the server died under us
				}
				mu.Lock()
				acked = append(acked, aws.ToString(out.Vpc.VpcId))
				mu.Unlock()
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged before the kill")
	}

	p2 := startProcess(t, bin, dataDir, addr)
	client = processClient(addr, provider)
	vpcs, err := client.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, v := range vpcs.Vpcs {
		have[aws.ToString(v.VpcId)] = true
	}
	for _, id := range acked {
		if !have[id] {
			t.Fatalf("acknowledged VPC %s is missing after SIGKILL and restart (%d acked, %d present)", id, len(acked), len(have))
		}
	}
	// Every VPC present, acknowledged or not, is whole: its main route table exists.
	tables, err := client.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []types.Filter{{Name: aws.String("association.main"), Values: []string{"true"}}}})
	if err == nil {
		mains := map[string]bool{}
		for _, rt := range tables.RouteTables {
			mains[aws.ToString(rt.VpcId)] = true
		}
		for id := range have {
			if !mains[id] {
				t.Fatalf("VPC %s survived without its main route table", id)
			}
		}
	} else if errCode(err) != "InvalidAction" {
		t.Fatal(err)
	}
	t.Logf("%d VPCs acknowledged before SIGKILL, %d present after restart", len(acked), len(have))

	// A graceful stop keeps everything too.
	p2.cmd.Process.Signal(syscall.SIGTERM)
	if err := p2.cmd.Wait(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	startProcess(t, bin, dataDir, addr)
	again, err := processClient(addr, provider).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	if err != nil || len(again.Vpcs) != len(have) {
		t.Fatalf("after SIGTERM restart: %d VPCs (%v), want %d", len(again.Vpcs), err, len(have))
	}
}
