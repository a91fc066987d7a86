package dataplane

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
)

// DefaultPrefix prefixes every kernel object privlink creates.
const DefaultPrefix = "pl"

// Config configures the Linux realizer.
type Config struct {
	// Prefix starts every namespace name; tests use a unique one.
	Prefix string
	// StateDir holds generated files such as per-VPC resolv.conf (default /run/privlink).
	StateDir string
}

// DefaultConfig returns the production configuration.
func DefaultConfig() Config {
	return Config{Prefix: DefaultPrefix, StateDir: "/run/privlink"}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Prefix == "" || len(c.Prefix) > 16 || strings.ContainsAny(c.Prefix, "/ \t\n") {
		return fmt.Errorf("dataplane: invalid prefix %q: %w", c.Prefix, errInvalidConfig)
	}
	if c.StateDir == "" {
		return fmt.Errorf("dataplane: empty state dir: %w", errInvalidConfig)
	}
	return nil
}

var errInvalidConfig = errors.New("dataplane: invalid config")

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Prefix == "" {
		c.Prefix = d.Prefix
	}
	if c.StateDir == "" {
		c.StateDir = d.StateDir
	}
	return c
}

// idSuffix strips the resource-type prefix ("vpc-", "eni-") from an ID.
func idSuffix(id string) string {
	if i := strings.IndexByte(id, '-'); i >= 0 && i < len(id)-1 {
		return id[i+1:]
	}
	return id
}

func routerNSName(prefix, vpcID string) string { return prefix + "-r-" + idSuffix(vpcID) }

func ifaceNSName(prefix, eniID string) string { return prefix + "-n-" + idSuffix(eniID) }

// routerLinkName names the router-side veth of an interface. Link names are
// limited to 15 bytes, so it is a hash; the link alias carries the ENI ID.
func routerLinkName(eniID string) string {
	h := fnv.New64a()
	h.Write([]byte(eniID))
	return fmt.Sprintf("v%014x", h.Sum64())[:15]
}

// subnetTable returns a stable routing-table number for a subnet, avoiding
// the reserved tables (0, 253-255) and those already taken.
func subnetTable(subnetID string, taken map[int]bool) int {
	h := fnv.New32a()
	h.Write([]byte(subnetID))
	t := 1000 + int(h.Sum32()%(1<<24))
	for taken[t] {
		t++
	}
	taken[t] = true
	return t
}

// subnetTables assigns routing tables to subnets in ID order, so the
// numbers are stable across applies.
func subnetTables(subnets []Subnet) map[string]int {
	taken := map[int]bool{}
	out := map[string]int{}
	for _, s := range sortedBy(subnets, func(s Subnet) string { return s.ID }) {
		out[s.ID] = subnetTable(s.ID, taken)
	}
	return out
}
