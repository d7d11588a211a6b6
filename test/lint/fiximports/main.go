// Command fiximports groups the imports of the Go files named on the
// command line, or of every Go file git tracks when none are named
// (package lint says how).
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/drover-dev/drover/test/lint"
)

func main() {
	files := os.Args[1:]
	if len(files) == 0 {
		out, err := exec.Command("git", "ls-files", "*.go").Output()
		if err != nil {
			fmt.Fprintln(os.Stderr, "fiximports: git ls-files:", err)
			os.Exit(1)
		}
		files = strings.Fields(string(out))
	}
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fiximports:", err)
			os.Exit(1)
		}
		fixed, err := lint.Fix(name, src)
		if err != nil {
			fmt.Fprintf(os.Stderr, "fiximports: %s: %v\n", name, err)
			os.Exit(1)
		}
		if string(fixed) != string(src) {
			if err := os.WriteFile(name, fixed, 0o644); err != nil {
				fmt.Fprintln(os.Stderr, "fiximports:", err)
				os.Exit(1)
			}
			fmt.Println("fixed", name)
		}
	}
}
