package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// namespaces lists the named network namespaces carrying prefix.
func namespaces(t *testing.T, prefix string) []string {
	t.Helper()
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix+"-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestDataPlaneSurvivesSIGKILL kills the server with SIGKILL while an
// endpoint carries traffic, plants an orphan namespace, and restarts it:
// traffic through the endpoint works again, the orphan is gone, and every
// namespace that should exist still exists (none duplicated or lost).
func TestDataPlaneSurvivesSIGKILL(t *testing.T) {
	requireDataPlane(t)
	prefix, dp := uniquePrefix(t)
	bin := privlinkBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	addr := freePort(t)
	start := func() *exec.Cmd {
		cfgPath := filepath.Join(filepath.Dir(dataDir), "config.yaml")
		if err := os.WriteFile(cfgPath, []byte(testConfig), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "server", "--listen", addr, "--data-dir", dataDir, "--config", cfgPath,
			"--log-level", "warn", "--dataplane", "on", "--dataplane-prefix", prefix)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		eventually(t, "server up", 20*time.Second, func() bool {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		return cmd
	}
	ctx := context.Background()
	proc := start()
	s := buildStory(t, "http://"+addr, dp)
	// Health checks run at ELB's real 30 s interval here, so targets are
	// still initial: the load balancer fails open to them, as NLB does.
	s.accept(t)
	clientNS := dp.InterfaceNamespace(s.clientENI)
	endpoint := net.JoinHostPort(s.endpointIP, "80")
	if _, err := ask(ctx, clientNS, endpoint); err != nil {
		t.Fatalf("before the kill: %v", err)
	}
	before := namespaces(t, prefix)

	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	proc.Wait()
	// An orphan, as a crash between creating and recording could leave.
	orphan := prefix + "-n-0123456789abcdef0"
	// NewNamed moves the calling thread into the new namespace: do it on a
	// locked thread that exits with its goroutine.
	made := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		h, err := netns.NewNamed(orphan)
		if err == nil {
			h.Close()
		}
		made <- err
	}()
	if err := <-made; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netns.DeleteNamed(orphan) })

	start()
	eventually(t, "traffic through the endpoint after the restart", 20*time.Second, func() bool {
		_, err := ask(ctx, clientNS, endpoint)
		return err == nil
	})
	after := namespaces(t, prefix)
	for _, ns := range after {
		if ns == orphan {
			t.Fatalf("orphan namespace %s survived the restart", orphan)
		}
	}
	if strings.Join(before, ",") != strings.Join(after, ",") {
		t.Fatalf("namespaces changed across the restart:\nbefore %v\nafter  %v", before, after)
	}
}
