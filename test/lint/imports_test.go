package lint

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestImportGroups checks every Go file git tracks in the repository.
func TestImportGroups(t *testing.T) {
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("git rev-parse: %v", err)
	}
	dir := strings.TrimSpace(string(root))
	out, err := exec.Command("git", "-C", dir, "ls-files", "*.go").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	files := strings.Fields(string(out))
	if len(files) < 100 {
		t.Fatalf("only %d Go files found; is this the repository?", len(files))
	}
	for _, name := range files {
		src, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		problem, err := Check(name, src)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if problem != "" {
			t.Errorf("%s (go run ./test/lint/fiximports fixes it)", problem)
		}
	}
}

func TestCheckAndFix(t *testing.T) {
	tests := []struct {
		name, in, want string
		problem        bool
	}{
		{"grouped", "package p\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\n\t\"golang.org/x/net/http2\"\n\n\t\"github.com/drover-dev/drover/pkg/ids\"\n)\n", "", false},
		{"mixed", "package p\n\nimport (\n\t\"fmt\"\n\t\"github.com/drover-dev/drover/pkg/ids\"\n\t\"golang.org/x/net/http2\"\n\t\"os\"\n)\n",
			"package p\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\n\t\"golang.org/x/net/http2\"\n\n\t\"github.com/drover-dev/drover/pkg/ids\"\n)\n", true},
		{"local in the middle", "package p\n\nimport (\n\t\"fmt\"\n\n\t\"github.com/drover-dev/drover/pkg/ids\"\n\tmetav1 \"k8s.io/apimachinery/pkg/apis/meta/v1\" // why\n)\n",
			"package p\n\nimport (\n\t\"fmt\"\n\n\tmetav1 \"k8s.io/apimachinery/pkg/apis/meta/v1\" // why\n\n\t\"github.com/drover-dev/drover/pkg/ids\"\n)\n", true},
		{"single import", "package p\n\nimport \"fmt\"\n", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			problem, err := Check("x.go", []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if (problem != "") != tc.problem {
				t.Errorf("Check = %q, want a problem: %v", problem, tc.problem)
			}
			got, err := Fix("x.go", []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == "" {
				want = tc.in
			}
			if diff := cmp.Diff(want, string(got)); diff != "" {
				t.Errorf("Fix (-want +got):\n%s", diff)
			}
			if p, _ := Check("x.go", got); p != "" {
				t.Errorf("the fixed file still fails: %s", p)
			}
		})
	}
}
