// Package layering checks that privlink's layers point one way: the API
// layer never reaches the kernel, the domain types import nothing of ours,
// and the engines (policy, dns, proxy, dataplane) stay independent of the
// control plane.
package layering

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/privlink/privlink/"

// forbidden maps a package to the privlink packages it must not depend on
// (directly or transitively).
var forbidden = map[string][]string{
	"internal/cloud":        {"internal/"},
	"internal/policy":       {"internal/"},
	"internal/proxy":        {"internal/"},
	"internal/dns":          {"internal/"},
	"internal/dataplane":    {"internal/"},
	"internal/store":        {"internal/controlplane", "internal/awsapi", "internal/dataplane", "internal/controllers"},
	"internal/controlplane": {"internal/awsapi", "internal/dataplane", "internal/controllers", "internal/proxy", "internal/server"},
	"internal/awsapi":       {"internal/dataplane", "internal/controllers", "internal/proxy", "internal/server"},
	"internal/awsapi/ec2":   {"internal/dataplane", "internal/controllers", "internal/proxy", "internal/server"},
	"internal/iam":          {"internal/awsapi", "internal/dataplane", "internal/controllers"},
}

// allowedSelf lists what a package may import although its rule above
// forbids a prefix (cloud types are everyone's).
var allowedSelf = map[string][]string{
	"internal/store": {"internal/cloud"},
}

func TestLayers(t *testing.T) {
	for pkg, bans := range forbidden {
		t.Run(pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "-json", "../../"+pkg).Output()
			if err != nil {
				t.Fatalf("go list %s: %v", pkg, err)
			}
			dec := json.NewDecoder(strings.NewReader(string(out)))
			for dec.More() {
				var p struct{ ImportPath string }
				if err := dec.Decode(&p); err != nil {
					t.Fatal(err)
				}
				dep, ok := strings.CutPrefix(p.ImportPath, module)
				if !ok || dep == pkg {
					continue
				}
				for _, ban := range bans {
					if strings.HasPrefix(dep, ban) && !allowed(pkg, dep) {
						t.Errorf("%s depends on %s", pkg, dep)
					}
				}
			}
		})
	}
}

func allowed(pkg, dep string) bool {
	for _, a := range allowedSelf[pkg] {
		if strings.HasPrefix(dep, a) {
			return true
		}
	}
	return false
}
