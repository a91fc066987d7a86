// Package config reads privlink's YAML configuration file: the regions to
// model, the organizations and the accounts with their access keys. It only
// parses and validates; iam applies the result to the store.
package config

import (
	"bytes"
	"fmt"
	"os"
	"regexp"

	"github.com/privlink/privlink/internal/cloud"
	"gopkg.in/yaml.v3"
)

// Config is the parsed configuration file.
type Config struct {
	Regions       []string       `yaml:"regions"`
	Organizations []Organization `yaml:"organizations"`
	Accounts      []Account      `yaml:"accounts"`
}

// Organization lists the accounts of one organization; the first account
// is its management account.
type Organization struct {
	ID       string   `yaml:"id"`
	Accounts []string `yaml:"accounts"`
}

// Account is an account and its root access keys.
type Account struct {
	ID         string      `yaml:"id"`
	Name       string      `yaml:"name"`
	AccessKeys []AccessKey `yaml:"access_keys"`
}

// AccessKey is a root access key pair of an account.
type AccessKey struct {
	ID     string `yaml:"id"`
	Secret string `yaml:"secret"`
}

var (
	orgIDPattern = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	keyIDPattern = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
)

// Default is the configuration used without a file.
func Default() *Config { return &Config{Regions: []string{"us-east-1"}} }

// Load reads and validates path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes and validates YAML. Unknown keys are allowed (the file may
// carry settings for other tools); wrong types and bad values are not.
func Parse(data []byte) (*Config, error) {
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(c); err != nil && err.Error() != "EOF" {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	if len(c.Regions) == 0 {
		c.Regions = []string{"us-east-1"}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks every value and every cross reference.
func (c *Config) Validate() error {
	seenRegion := map[string]bool{}
	for i, r := range c.Regions {
		if !cloud.IsKnownRegion(r) {
			return fmt.Errorf("regions[%d]: unknown region %q", i, r)
		}
		if seenRegion[r] {
			return fmt.Errorf("regions[%d]: region %q listed twice", i, r)
		}
		seenRegion[r] = true
	}
	accounts := map[string]bool{}
	keys := map[string]bool{}
	for i, a := range c.Accounts {
		if !cloud.IsAccountID(a.ID) {
			return fmt.Errorf("accounts[%d].id: %q is not a 12-digit account ID (quote it in YAML)", i, a.ID)
		}
		if accounts[a.ID] {
			return fmt.Errorf("accounts[%d].id: account %s listed twice", i, a.ID)
		}
		accounts[a.ID] = true
		for j, k := range a.AccessKeys {
			if !keyIDPattern.MatchString(k.ID) {
				return fmt.Errorf("accounts[%d].access_keys[%d].id: %q must be 16-128 upper-case letters or digits", i, j, k.ID)
			}
			if k.Secret == "" {
				return fmt.Errorf("accounts[%d].access_keys[%d].secret: must not be empty", i, j)
			}
			if keys[k.ID] {
				return fmt.Errorf("accounts[%d].access_keys[%d].id: key %s used twice", i, j, k.ID)
			}
			keys[k.ID] = true
		}
	}
	member := map[string]string{}
	for i, o := range c.Organizations {
		if !orgIDPattern.MatchString(o.ID) {
			return fmt.Errorf("organizations[%d].id: %q is not an organization ID (o- and 10-32 lower-case letters or digits)", i, o.ID)
		}
		if len(o.Accounts) == 0 {
			return fmt.Errorf("organizations[%d].accounts: an organization needs at least its management account", i)
		}
		for j, a := range o.Accounts {
			if !accounts[a] {
				return fmt.Errorf("organizations[%d].accounts[%d]: account %q is not defined under accounts", i, j, a)
			}
			if prev, ok := member[a]; ok {
				return fmt.Errorf("organizations[%d].accounts[%d]: account %s is already in organization %s", i, j, a, prev)
			}
			member[a] = o.ID
		}
	}
	return nil
}
