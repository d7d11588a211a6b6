// Package lint holds the project's own source checks that no pinned linter
// makes: the import grouping (standard library, then other modules, then
// this module, each group sorted and separated by one blank line).
// TestImportGroups checks every Go file of the repository; `go run
// ./test/lint/fiximports` rewrites the files that fail it. `make lint` runs
// both the check and staticcheck.
//
// It only reads and formats source; it must never change what a file means.
package lint
