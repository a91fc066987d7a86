package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runScript runs one of the real-client scripts beside this file against a
// fresh server, with the provider's and consumer's keys in its environment.
func runScript(t *testing.T, tool string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", tool, err)
		}
		t.Skipf("%s is not installed: %v", tool, err)
	}
	srv := startServer(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Dir = filepath.Join(repoRoot(t), "tests", "e2e")
	home := t.TempDir()
	cmd.Env = append(os.Environ(),
		"HOME="+home,
		"AWS_CONFIG_FILE="+filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"),
		"AWS_ENDPOINT_URL="+srv.Endpoint(),
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_PAGER=",
		"AWS_MAX_ATTEMPTS=1",
		"PROVIDER_KEY="+provider.id, "PROVIDER_SECRET="+provider.secret,
		"CONSUMER_KEY="+consumer.id, "CONSUMER_SECRET="+consumer.secret,
		"OUTSIDER_KEY="+outsider.id, "OUTSIDER_SECRET="+outsider.secret,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s failed: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	t.Logf("%s", out)
}

func TestAWSCLIFlow(t *testing.T) { runScript(t, "bash", "cli_flow.sh") }

func TestBoto3Flow(t *testing.T) { runScript(t, "python3", "boto3_flow.py") }

func TestAWSCLIPrivateLinkControlFlow(t *testing.T) { runScript(t, "bash", "cli_privatelink_flow.sh") }
