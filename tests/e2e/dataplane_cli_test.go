package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestPrivateLinkCLIFlow runs the README's walkthrough: the AWS CLI builds
// the provider/consumer story, and privlink exec runs a web server on the
// provider's instance and curl and dig on the consumer's.
func TestPrivateLinkCLIFlow(t *testing.T) {
	requireDataPlane(t)
	for _, tool := range []string{"aws", "curl", "dig", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required in CI: %v", tool, err)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	prefix, _ := uniquePrefix(t)
	bin := privlinkBinary(t)
	srv := startDataPlaneServer(t, prefix, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "privatelink_cli.sh")
	cmd.Dir = filepath.Join(repoRoot(t), "tests", "e2e")
	// The script starts a server in the background: in a process group of
	// its own, whatever it leaves running ends with the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	killGroup := func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Cancel = killGroup
	home := t.TempDir()
	cmd.Env = append(os.Environ(),
		"HOME="+home, "TMPDIR="+t.TempDir(),
		"AWS_CONFIG_FILE="+filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"),
		"AWS_ENDPOINT_URL="+srv.Endpoint(), "AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1",
		"PRIVLINK="+bin, "PRIVLINK_PREFIX="+prefix,
		"PROVIDER_KEY="+provider.id, "PROVIDER_SECRET="+provider.secret,
		"CONSUMER_KEY="+consumer.id, "CONSUMER_SECRET="+consumer.secret,
	)
	out, err := cmd.CombinedOutput()
	if cmd.Process != nil {
		killGroup()
	}
	if err != nil {
		t.Fatalf("privatelink_cli.sh: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
