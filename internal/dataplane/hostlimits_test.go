package dataplane

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRaiseLimits(t *testing.T) {
	floors := [][2]string{{"net/a", "100"}, {"net/b", "200"}}
	tests := []struct {
		name        string
		have        map[string]string // file contents; missing key = no file
		wantChanged []string
		wantFiles   map[string]string
		wantErr     string
	}{
		{"raises what is below", map[string]string{"net/a": "10\n", "net/b": "1000\n"},
			[]string{"net.a 10 -> 100"}, map[string]string{"net/a": "100", "net/b": "1000\n"}, ""},
		{"never lowers", map[string]string{"net/a": "100\n", "net/b": "500\n"},
			nil, map[string]string{"net/a": "100\n", "net/b": "500\n"}, ""},
		{"missing key (not the host's namespace)", map[string]string{"net/a": "1\n"},
			[]string{"net.a 1 -> 100"}, map[string]string{"net/a": "100"}, "net/b"},
		{"garbage is an error, not a write", map[string]string{"net/a": "lots\n", "net/b": "1\n"},
			nil, map[string]string{"net/a": "lots\n", "net/b": "1\n"}, `"lots\n"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for k, v := range tc.have {
				p := filepath.Join(root, k)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			changed, err := raiseLimits(root, floors)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantChanged, changed); diff != "" {
				t.Errorf("changed (-want +got):\n%s", diff)
			}
			for k, want := range tc.wantFiles {
				got, _ := os.ReadFile(filepath.Join(root, k))
				if string(got) != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}
