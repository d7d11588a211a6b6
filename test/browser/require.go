package browser

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// EnvRequire, when set (make test sets DROVER_REQUIRE_BROWSER=1), turns
// what would skip a browser test (no Chromium, the console not built) into
// a failure, so that CI cannot pass by skipping.
const EnvRequire = "DROVER_REQUIRE_BROWSER"

// Required reports whether EnvRequire is set.
func Required() bool { return os.Getenv(EnvRequire) != "" }

// repoRoot finds the module root from this source file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// ConsoleIndex is the built console's index.html (`make console`).
func ConsoleIndex() string { return filepath.Join(repoRoot(), "pkg", "console", "dist", "index.html") }

// AxePath is axe-core as the console's build installs it (`make console`).
func AxePath() string {
	return filepath.Join(repoRoot(), "web", "console", "node_modules", "axe-core", "axe.min.js")
}

// ConsoleBuilt reports whether `make console` has built the console.
func ConsoleBuilt() bool {
	_, err := os.Stat(ConsoleIndex())
	return err == nil
}

// skipOrFail skips t with reason, or fails it when Required.
func skipOrFail(t testing.TB, reason string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s (%s is set, so this fails instead of skipping)", reason, EnvRequire)
	}
	t.Skip(reason)
}

// RequireChromium skips t when Chromium is missing (fails it when
// Required).
func RequireChromium(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(ChromiumPath()); err != nil {
		skipOrFail(t, "no Chromium at "+ChromiumPath()+": run `make browser-tools`")
	}
}

// RequireConsole skips t when the console is not built (fails it when
// Required).
func RequireConsole(t testing.TB) {
	t.Helper()
	if !ConsoleBuilt() {
		skipOrFail(t, "the console is not built ("+ConsoleIndex()+" is missing): run `make console`")
	}
}

// RequireAxe fails t when axe-core is missing but the console is built
// (or Required): `make console` installs both. When neither is there, the
// console is simply not built here, and t is skipped.
func RequireAxe(t testing.TB) {
	t.Helper()
	_, err := os.Stat(AxePath())
	switch {
	case err == nil:
	case !errors.Is(err, os.ErrNotExist):
		t.Fatal(err)
	case ConsoleBuilt() || Required():
		t.Fatalf("axe-core is missing (%s): run `make console`", AxePath())
	default:
		t.Skip("the console is not built (no axe-core at " + AxePath() + "): run `make console`")
	}
}
