package lint

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"slices"
	"strings"
)

// Module is this repository's module path: its imports form the last group.
const Module = "github.com/drover-dev/drover"

// group is an import's group: 0 standard library, 1 other modules, 2 this
// module.
func group(path string) int {
	switch {
	case path == Module || strings.HasPrefix(path, Module+"/"):
		return 2
	case strings.Contains(strings.SplitN(path, "/", 2)[0], "."):
		return 1
	}
	return 0
}

type spec struct {
	group int
	path  string
	text  string // the spec as written, with its line comment
	line  int
}

// specs returns the imports of a file's single parenthesized import
// declaration, or ok false when the file has none (or a form this check
// leaves alone: several import declarations, or comments of their own
// between imports).
func specs(fset *token.FileSet, src []byte, f *ast.File) (decl *ast.GenDecl, out []spec, ok bool) {
	for _, d := range f.Decls {
		g, isGen := d.(*ast.GenDecl)
		if !isGen || g.Tok != token.IMPORT {
			continue
		}
		if decl != nil || !g.Lparen.IsValid() {
			return nil, nil, false
		}
		decl = g
	}
	if decl == nil {
		return nil, nil, false
	}
	for _, c := range f.Comments {
		if c.Pos() > decl.Lparen && c.End() < decl.Rparen {
			// Only line comments after a spec are carried along.
			owned := false
			for _, s := range decl.Specs {
				is := s.(*ast.ImportSpec)
				if is.Comment == c {
					owned = true
				}
			}
			if !owned {
				return nil, nil, false
			}
		}
	}
	for _, s := range decl.Specs {
		is := s.(*ast.ImportSpec)
		end := is.End()
		if is.Comment != nil {
			end = is.Comment.End()
		}
		path := strings.Trim(is.Path.Value, "\"`")
		out = append(out, spec{
			group: group(path), path: path,
			text: string(src[fset.Position(is.Pos()).Offset:fset.Position(end).Offset]),
			line: fset.Position(is.Pos()).Line,
		})
	}
	return decl, out, true
}

// generated reports whether src is generated code (its imports are the
// generator's business).
func generated(src []byte) bool {
	f, err := parser.ParseFile(token.NewFileSet(), "", src, parser.PackageClauseOnly|parser.ParseComments)
	return err == nil && ast.IsGenerated(f)
}

// Check reports what is wrong with a file's import grouping, or "".
// Generated files are left alone.
func Check(name string, src []byte) (string, error) {
	if generated(src) {
		return "", nil
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly|parser.ParseComments)
	if err != nil {
		return "", err
	}
	_, ss, ok := specs(fset, src, f)
	if !ok {
		return "", nil
	}
	for i := 1; i < len(ss); i++ {
		prev, cur := ss[i-1], ss[i]
		gap := cur.line - prev.line
		switch {
		case cur.group < prev.group:
			return fmt.Sprintf("%s: import %q belongs before %q (standard library, other modules, then %s)", name, cur.path, prev.path, Module), nil
		case cur.group == prev.group && gap != 1:
			return fmt.Sprintf("%s: import %q is separated from %q of the same group", name, cur.path, prev.path), nil
		case cur.group != prev.group && gap != 2:
			return fmt.Sprintf("%s: imports %q and %q of different groups need one blank line between them", name, prev.path, cur.path), nil
		case cur.group == prev.group && cur.path < prev.path:
			return fmt.Sprintf("%s: import %q is not sorted", name, cur.path), nil
		}
	}
	return "", nil
}

// Fix returns src with its imports grouped, or src itself when there is
// nothing to fix (or a form Check leaves alone).
func Fix(name string, src []byte) ([]byte, error) {
	if generated(src) {
		return src, nil
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly|parser.ParseComments)
	if err != nil {
		return nil, err
	}
	decl, ss, ok := specs(fset, src, f)
	if !ok || len(ss) == 0 {
		return src, nil
	}
	slices.SortStableFunc(ss, func(a, b spec) int {
		if a.group != b.group {
			return a.group - b.group
		}
		return strings.Compare(a.path, b.path)
	})
	var b bytes.Buffer
	b.WriteString("(\n")
	for i, s := range ss {
		if i > 0 && s.group != ss[i-1].group {
			b.WriteString("\n")
		}
		b.WriteString("\t" + s.text + "\n")
	}
	b.WriteString(")")
	start, end := fset.Position(decl.Lparen).Offset, fset.Position(decl.Rparen).Offset+1
	out := append(append(append([]byte{}, src[:start]...), b.Bytes()...), src[end:]...)
	return format.Source(out)
}
