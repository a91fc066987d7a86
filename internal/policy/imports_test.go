package policy

import (
	"go/parser"
	gotoken "go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNoIOAndNoPrivlinkImports keeps the package pure: no other privlink
// package, nothing that performs I/O.
func TestNoIOAndNoPrivlinkImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	forbidden := map[string]bool{"os": true, "net": true, "net/http": true, "io/ioutil": true, "os/exec": true, "syscall": true}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		t.Run(f, func(t *testing.T) {
			parsed, err := parser.ParseFile(gotoken.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range parsed.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if forbidden[path] || strings.HasPrefix(path, "github.com/privlink/") {
					t.Errorf("imports %q", path)
				}
			}
		})
	}
}
