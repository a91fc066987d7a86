package config

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := `
regions: [us-east-1, eu-west-1]
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
extra_setting: ignored
`
	c, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Regions) != 2 || c.Accounts[0].AccessKeys[0].Secret != "provider-secret" || c.Organizations[0].Accounts[1] != "222222222222" {
		t.Fatalf("parsed %+v", c)
	}
	if c, err := Parse(nil); err != nil || c.Regions[0] != "us-east-1" {
		t.Fatalf("empty config: %+v %v", c, err)
	}

	bad := map[string]struct{ yaml, want string }{
		"unknown region":      {"regions: [mars-1]", "unknown region"},
		"unquoted account":    {"accounts: [{id: 12}]", "12-digit"},
		"bad key id":          {`accounts: [{id: "111111111111", access_keys: [{id: "x", secret: s}]}]`, "access_keys[0].id"},
		"empty secret":        {`accounts: [{id: "111111111111", access_keys: [{id: AKIAAAAAAAAAAAAAAAAA}]}]`, "secret"},
		"undefined member":    {`organizations: [{id: o-a1b2c3d4e5, accounts: ["333333333333"]}]`, "not defined"},
		"bad org id":          {`accounts: [{id: "111111111111"}]` + "\n" + `organizations: [{id: org1, accounts: ["111111111111"]}]`, "organization ID"},
		"not yaml":            {"regions: [", "invalid YAML"},
		"wrong type":          {"regions: 5", "invalid YAML"},
		"duplicate key id":    {`accounts: [{id: "111111111111", access_keys: [{id: AKIAAAAAAAAAAAAAAAAA, secret: a}, {id: AKIAAAAAAAAAAAAAAAAA, secret: b}]}]`, "used twice"},
		"account in two orgs": {`accounts: [{id: "111111111111"}]` + "\n" + `organizations: [{id: o-a1b2c3d4e5, accounts: ["111111111111"]}, {id: o-b1b2c3d4e5, accounts: ["111111111111"]}]`, "already in organization"},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("regions: [us-east-1]\naccounts: [{id: \"111111111111\"}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err == nil && c.Validate() != nil {
			t.Fatal("Parse accepted a config that does not validate")
		}
	})
}
