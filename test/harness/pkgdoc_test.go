package harness

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageDocs fails when a package under pkg/ lacks a doc.go with a
// package comment saying what it owns and what it must never do, or when
// any other package of the module lacks a package comment.
func TestPackageDocs(t *testing.T) {
	root := RepoRoot()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "tools" || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			return nil
		}
		pkgs, err := parser.ParseDir(token.NewFileSet(), path, func(fi os.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil || len(pkgs) == 0 {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, p := range pkgs {
			var doc string
			for name, f := range p.Files {
				if f.Doc != nil && (doc == "" || filepath.Base(name) == "doc.go") {
					doc = f.Doc.Text()
				}
			}
			if doc == "" {
				t.Errorf("%s: package %s has no package comment", rel, p.Name)
				continue
			}
			if strings.HasPrefix(rel, "pkg"+string(filepath.Separator)) {
				if _, err := os.Stat(filepath.Join(path, "doc.go")); err != nil {
					t.Errorf("%s: no doc.go", rel)
				}
				if !strings.Contains(strings.Join(strings.Fields(doc), " "), "must never") {
					t.Errorf("%s: doc.go does not say what the package must never do", rel)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
