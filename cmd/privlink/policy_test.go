package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPolicyValidate(t *testing.T) {
	identity := writeFile(t, "id.json", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}`)
	trust := writeFile(t, "trust.json", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}]}`)
	bucket := writeFile(t, "bucket.json", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`)
	bad := writeFile(t, "bad.json", `{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"ec2:*","Resource":"*"}]}`)
	tests := []struct {
		name    string
		args    []string
		code    int
		stdout  string // substring
		stderr  string // substring
		outLine int    // minimum number of stdout lines
	}{
		{"valid identity", []string{identity}, 0, "valid identity policy", "", 1},
		{"valid trust with kind", []string{"--kind", "trust", trust}, 0, "valid trust policy", "", 1},
		{"guessed resource kind", []string{bucket}, 0, "valid resource policy", "", 1},
		{"trust policy guessed as resource lacks Resource", []string{trust}, 1, "invalid resource policy", "", 2},
		{"identity policy is not a trust policy", []string{"--kind", "trust", identity}, 1, "invalid trust policy", "", 2},
		{"invalid effect", []string{bad}, 1, "invalid identity policy", "", 2},
		{"unknown kind", []string{"--kind", "nope", identity}, 2, "", "--kind", 0},
		{"missing file", []string{filepath.Join(t.TempDir(), "none.json")}, 2, "", "no such file", 0},
		{"no file", nil, 2, "", "exactly one FILE", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"policy", "validate"}, tc.args...), &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tc.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("stdout %q stderr %q, want %q / %q", out.String(), errb.String(), tc.stdout, tc.stderr)
			}
			if n := strings.Count(out.String(), "\n"); n < tc.outLine {
				t.Errorf("%d stdout lines, want at least %d (each message, then the verdict)", n, tc.outLine)
			}
		})
	}
}

func TestPolicySimulate(t *testing.T) {
	input := func(vpce string) string {
		return `{"request":{"principal":"arn:aws:iam::111111111111:user/alice","action":"s3:GetObject","resource":"arn:aws:s3:::b/k","context":{"aws:SourceVpce":"` + vpce + `"}},
		"policies":{"identity":[{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1"}}}]}]}}`
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		decision string
		stderr   string
	}{
		{"allowed", []string{"--input", writeFile(t, "a.json", input("vpce-1"))}, 0, "Allowed", ""},
		{"implicitly denied", []string{"--input", writeFile(t, "b.json", input("vpce-2"))}, 0, "ImplicitlyDenied", ""},
		{"unknown field", []string{"--input", writeFile(t, "c.json", `{"requests":{}}`)}, 2, "", "unknown field"},
		{"malformed policy", []string{"--input", writeFile(t, "d.json", `{"request":{"action":"s3:GetObject"},"policies":{"identity":[{"Statement":[{"Effect":"Maybe"}]}]}}`)}, 2, "", "privlink policy simulate:"},
		{"no input", nil, 2, "", "--input FILE is required"},
		{"missing file", []string{"--input", filepath.Join(t.TempDir(), "none.json")}, 2, "", "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"policy", "simulate"}, tc.args...), &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tc.code, out.String(), errb.String())
			}
			if !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("stderr %q, want %q", errb.String(), tc.stderr)
			}
			if tc.decision == "" {
				return
			}
			var res struct {
				Decision string `json:"decision"`
			}
			if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Decision != tc.decision {
				t.Errorf("output %q: decision %q (%v), want %q", out.String(), res.Decision, err, tc.decision)
			}
		})
	}
}

func TestPolicyUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"policy"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "privlink policy validate") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
	if code := run([]string{"policy", "frobnicate"}, &out, &errb); code != 2 {
		t.Errorf("unknown subcommand: exit %d", code)
	}
}
