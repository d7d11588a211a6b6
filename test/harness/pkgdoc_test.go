package harness

import (
	"go/ast"
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
		pkgs, err := parsePackages(path)
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

// parsedPackage is a directory's non-test Go files of one package, parsed
// down to their package clause and comments.
type parsedPackage struct {
	Name  string
	Files map[string]*ast.File
}

// parsePackages parses the package clauses of a directory's non-test Go
// files, by package name.
func parsePackages(dir string) (map[string]*parsedPackage, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]*parsedPackage{}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		path := filepath.Join(dir, name)
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			return nil, err
		}
		p := out[f.Name.Name]
		if p == nil {
			p = &parsedPackage{Name: f.Name.Name, Files: map[string]*ast.File{}}
			out[f.Name.Name] = p
		}
		p.Files[path] = f
	}
	return out, nil
}
