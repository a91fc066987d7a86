package policy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// corpusCase is one conformance case: a Simulate input and what AWS's
// documented rules say the outcome is.
type corpusCase struct {
	Name     string          `json:"name"`
	Doc      string          `json:"doc,omitempty"` // the documented rule the case checks
	Request  json.RawMessage `json:"request"`
	Policies json.RawMessage `json:"policies"`
	Expect   string          `json:"expect"` // Allowed | ImplicitlyDenied | ExplicitlyDenied | Error
	// Optional checks.
	BlockedBy   []string `json:"blockedBy,omitempty"`
	Message     string   `json:"message,omitempty"`
	MatchedSids []string `json:"matchedSids,omitempty"`
	ErrorHas    string   `json:"errorHas,omitempty"`
}

type corpusFile struct {
	Topic string       `json:"topic"`
	Cases []corpusCase `json:"cases"`
}

func loadCorpus(t testing.TB) map[string][]corpusCase {
	t.Helper()
	files, err := filepath.Glob("testdata/corpus/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files: %v", err)
	}
	out := map[string][]corpusCase{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cf corpusFile
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = cf.Cases
	}
	return out
}

func (c corpusCase) input() []byte {
	b, _ := json.Marshal(map[string]json.RawMessage{"request": c.Request, "policies": c.Policies})
	return b
}

func TestConformanceCorpus(t *testing.T) {
	corpus := loadCorpus(t)
	total := 0
	for file, cases := range corpus {
		seen := map[string]bool{}
		for _, c := range cases {
			total++
			if seen[c.Name] {
				t.Errorf("%s: duplicate case name %q", file, c.Name)
			}
			seen[c.Name] = true
			t.Run(strings.TrimSuffix(file, ".json")+"/"+c.Name, func(t *testing.T) {
				res, err := SimulateResult(c.input())
				if c.Expect == "Error" {
					if err == nil {
						t.Fatalf("want an error containing %q, got decision %v", c.ErrorHas, res.Decision)
					}
					if !strings.Contains(err.Error(), c.ErrorHas) {
						t.Fatalf("error %q does not contain %q", err, c.ErrorHas)
					}
					return
				}
				if err != nil {
					t.Fatalf("simulate: %v", err)
				}
				if got := res.Decision.String(); got != c.Expect {
					t.Fatalf("decision = %s, want %s (blockedBy %v, matched %v)", got, c.Expect, res.BlockedBy, res.Matched)
				}
				if c.BlockedBy != nil {
					if diff := cmp.Diff(c.BlockedBy, res.BlockedBy); diff != "" {
						t.Errorf("blockedBy mismatch (-want +got):\n%s", diff)
					}
				}
				if c.Message != "" && res.Message != c.Message {
					t.Errorf("message =\n  %s\nwant\n  %s", res.Message, c.Message)
				}
				if c.MatchedSids != nil {
					var sids []string
					for _, m := range res.Matched {
						sids = append(sids, m.Sid)
					}
					if diff := cmp.Diff(c.MatchedSids, sids); diff != "" {
						t.Errorf("matched sids mismatch (-want +got):\n%s", diff)
					}
				}
			})
		}
	}
	if total < 400 {
		t.Errorf("corpus has %d cases, want at least 400", total)
	}
}
