package dataplane

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The kernel keeps one IPv4 neighbour (ARP) table for all network
// namespaces, and its limits exist only in the host's namespace. Every
// interface privlink realizes adds neighbours in several namespaces (its
// router, its own, a fabric link's two ends), so at the default hard limit
// of 1,024 a few hundred endpoints fill the table: the kernel logs
// "neighbor table overflow", new neighbours cannot be resolved, and packets
// to them are dropped (measured: 400 endpoints took 64 s instead of 7 s to
// carry traffic). hostNeighbourLimits are the floors privlink raises them to.
func hostNeighbourLimits() [][2]string {
	return [][2]string{
		{"net/ipv4/neigh/default/gc_thresh1", "16384"},
		{"net/ipv4/neigh/default/gc_thresh2", "32768"},
		{"net/ipv4/neigh/default/gc_thresh3", "65536"},
	}
}

// RaiseHostLimits raises the host-wide kernel limits the data plane can
// outgrow to privlink's floors, never lowering one, and returns what it
// changed ("key old -> new"). It must run in the host's network namespace;
// elsewhere (a container) the keys are missing and it reports that.
func (l *Linux) RaiseHostLimits() ([]string, error) {
	return raiseLimits("/proc/sys", hostNeighbourLimits())
}

// raiseLimits writes each sysctl under root whose value is below its floor.
func raiseLimits(root string, floors [][2]string) ([]string, error) {
	var changed []string
	for _, kv := range floors {
		path := filepath.Join(root, kv[0])
		b, err := os.ReadFile(path)
		if err != nil {
			return changed, fmt.Errorf("dataplane: host limit %s: %w", kv[0], err)
		}
		have, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return changed, fmt.Errorf("dataplane: host limit %s: %q: %w", kv[0], b, err)
		}
		want, err := strconv.ParseInt(kv[1], 10, 64)
		if err != nil {
			return changed, fmt.Errorf("dataplane: host limit %s: floor %q: %w", kv[0], kv[1], err)
		}
		if have >= want {
			continue
		}
		if err := os.WriteFile(path, []byte(kv[1]), 0o644); err != nil {
			return changed, fmt.Errorf("dataplane: raise %s to %s: %w", kv[0], kv[1], err)
		}
		changed = append(changed, fmt.Sprintf("%s %d -> %d", strings.ReplaceAll(kv[0], "/", "."), have, want))
	}
	return changed, nil
}
