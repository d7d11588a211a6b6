package deploy

import (
	"bufio"
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/test/harness"
)

// instruction is one Dockerfile instruction with its continuation lines
// joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// parseDockerfile is a small line parser: comments and blank lines dropped,
// backslash continuations joined. It does not implement heredocs or the
// escape directive, which our Dockerfiles do not use.
func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(line, "#") {
			continue // comments inside a continued instruction are dropped too
		}
		if cur.Len() == 0 {
			start = n
		}
		if s, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur.Len() > 0 {
		t.Fatalf("%s: ends inside a continued line", path)
	}
	return out
}

// shellWords splits s like a POSIX shell for the simple cases Dockerfiles
// use here: whitespace, single and double quotes.
func shellWords(s string) []string {
	var out []string
	var w strings.Builder
	in := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				w.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, w.String())
	}
	return out
}

// goBuild is the `go build` command of a Dockerfile's RUN instruction.
type goBuild struct {
	flags []string // between "build" and "-o"
	pkg   string
}

func findGoBuild(t *testing.T, ins []instruction) goBuild {
	t.Helper()
	var found []goBuild
	for _, in := range ins {
		if in.cmd != "RUN" {
			continue
		}
		words := shellWords(in.args)
		for i := 0; i+1 < len(words); i++ {
			if words[i] != "go" || words[i+1] != "build" {
				continue
			}
			var b goBuild
			rest := words[i+2:]
			for j := 0; j < len(rest); j++ {
				switch {
				case rest[j] == "-o":
					j++ // the output path
				case strings.HasPrefix(rest[j], "./"):
					b.pkg = rest[j]
				case rest[j] == "&&" || rest[j] == ";":
					j = len(rest)
				default:
					b.flags = append(b.flags, rest[j])
				}
			}
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d `go build` commands, want 1", len(found))
	}
	return found[0]
}

func TestDockerfiles(t *testing.T) {
	root := harness.RepoRoot()
	for _, tc := range []struct {
		file, pkg  string
		exposed    []string
		entrypoint string
	}{
		{"Dockerfile.server", "./cmd/server", []string{"8443"}, `["/drover-server"]`},
		{"Dockerfile.agent", "./cmd/agent", []string{"8090"}, `["/drover-agent"]`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(root, "deploy", "docker", tc.file)
			ins := parseDockerfile(t, path)

			var froms []string
			var exposed []string
			var user, entrypoint string
			env := map[string]string{}
			for _, in := range ins {
				switch in.cmd {
				case "FROM":
					froms = append(froms, in.args)
					user = "" // USER is per stage
				case "USER":
					user = in.args
				case "EXPOSE":
					exposed = append(exposed, strings.Fields(in.args)...)
				case "ENTRYPOINT":
					entrypoint = in.args
				case "ENV":
					for _, kv := range strings.Fields(in.args) {
						if k, v, ok := strings.Cut(kv, "="); ok {
							env[k] = v
						}
					}
				case "ADD":
					if strings.Contains(in.args, "http://") || strings.Contains(in.args, "https://") || strings.Contains(in.args, "git@") {
						t.Errorf("line %d: ADD of a remote source: %s", in.line, in.args)
					}
				case "RUN":
					if strings.Contains(in.args, "curl ") || strings.Contains(in.args, "wget ") {
						t.Errorf("line %d: downloads outside the module proxy: %s", in.line, in.args)
					}
				}
			}
			if len(froms) < 2 {
				t.Fatalf("%d FROM lines, want a multi-stage build", len(froms))
			}
			if !strings.Contains(froms[0], "golang:") || !strings.HasSuffix(froms[0], " AS build") {
				t.Errorf("first stage %q, want a golang image named build", froms[0])
			}
			final := froms[len(froms)-1]
			nonrootBase := strings.HasPrefix(final, "gcr.io/distroless/static") && strings.Contains(final, ":nonroot")
			if !nonrootBase && final != "scratch" {
				t.Errorf("final stage %q, want gcr.io/distroless/static:nonroot or scratch", final)
			}
			// Explicit and numeric even on the nonroot base, so that the
			// kubelet's runAsNonRoot check can verify it from the image.
			if user != "65532:65532" {
				t.Errorf("final stage USER %q, want 65532:65532", user)
			}
			if diff := cmp.Diff(tc.exposed, exposed); diff != "" {
				t.Errorf("EXPOSE (-want +got):\n%s", diff)
			}
			if entrypoint != tc.entrypoint {
				t.Errorf("ENTRYPOINT %s, want %s (exec form)", entrypoint, tc.entrypoint)
			}
			if env["CGO_ENABLED"] != "0" {
				t.Errorf("build stage CGO_ENABLED=%q, want 0", env["CGO_ENABLED"])
			}
			if env["GOTOOLCHAIN"] != "local" {
				t.Errorf("build stage GOTOOLCHAIN=%q, want local", env["GOTOOLCHAIN"])
			}
			b := findGoBuild(t, ins)
			if b.pkg != tc.pkg {
				t.Errorf("builds %q, want %q", b.pkg, tc.pkg)
			}
			if !slices.Contains(b.flags, "-trimpath") {
				t.Errorf("go build flags %q lack -trimpath", b.flags)
			}
			// --version: the stamps come in as build arguments (the
			// context has no .git), into package version's variables.
			args := buildArgs(ins)
			for _, stamp := range []struct{ arg, variable string }{{"VERSION", "version"}, {"COMMIT", "commit"}} {
				if _, ok := args[stamp.arg]; !ok {
					t.Errorf("no ARG %s in the build stage", stamp.arg)
				}
				x := "-X " + versionPkg + "." + stamp.variable + "=${" + stamp.arg + "}"
				if !slices.ContainsFunc(b.flags, func(f string) bool { return strings.Contains(f, x) }) {
					t.Errorf("go build flags %q lack %q", b.flags, x)
				}
			}
			if _, err := os.Stat(path + ".dockerignore"); err != nil {
				t.Errorf("no %s.dockerignore: %v", tc.file, err)
			}
		})
	}
}

// versionPkg is where the linker stamps what --version says.
const versionPkg = "github.com/drover-dev/drover/pkg/version"

// buildArgs are the ARG instructions of the build stage (the first) with
// their defaults.
func buildArgs(ins []instruction) map[string]string {
	args := map[string]string{}
	froms := 0
	for _, in := range ins {
		switch in.cmd {
		case "FROM":
			froms++
		case "ARG":
			if froms == 1 {
				k, v, _ := strings.Cut(in.args, "=")
				args[k] = v
			}
		}
	}
	return args
}

// TestStaticBinaries builds the binaries exactly as the Dockerfiles do (their
// environment and go build flags, read from them, with the build arguments
// `make images` passes) and checks they are static: no program
// interpreter, no shared libraries, cgo off; and that --version says what
// the build arguments stamped.
func TestStaticBinaries(t *testing.T) {
	root := harness.RepoRoot()
	dir := t.TempDir()
	for _, tc := range []struct{ file, name string }{
		{"Dockerfile.server", "drover-server"},
		{"Dockerfile.agent", "drover-agent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ins := parseDockerfile(t, filepath.Join(root, "deploy", "docker", tc.file))
			b := findGoBuild(t, ins)
			out := filepath.Join(dir, tc.name)
			// What `docker build --build-arg VERSION=… --build-arg
			// COMMIT=…` would substitute.
			stamps := buildArgs(ins)
			stamps["VERSION"], stamps["COMMIT"] = "v9.8.7-test", "0123456789abcdef0123456789abcdef01234567"
			args := []string{"build"}
			for _, f := range b.flags {
				args = append(args, os.Expand(f, func(k string) string { return stamps[k] }))
			}
			args = append(args, "-o", out, b.pkg)
			cmd := exec.CommandContext(t.Context(), "go", args...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=readonly")
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, msg)
			}
			checkStatic(t, out)
			version, err := exec.CommandContext(t.Context(), out, "--version").Output()
			if err != nil {
				t.Fatalf("%s --version: %v", tc.name, err)
			}
			want := tc.name + " version v9.8.7-test\ncommit: " + stamps["COMMIT"] + "\ngo: "
			if !strings.HasPrefix(string(version), want) {
				t.Errorf("%s --version:\n%s\nwant it to start with:\n%s", tc.name, version, want)
			}
			bi, err := buildinfo.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			settings := map[string]string{}
			for _, s := range bi.Settings {
				settings[s.Key] = s.Value
			}
			for k, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true"} {
				if settings[k] != want {
					t.Errorf("build setting %s=%q, want %q", k, settings[k], want)
				}
			}
		})
	}
}

func checkStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a PT_INTERP program header: dynamically linked", path)
		}
		if p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has a PT_DYNAMIC program header", path)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) != 0 {
		t.Errorf("%s needs shared libraries (DT_NEEDED): %v", path, libs)
	}
	if f.Section(".interp") != nil {
		t.Errorf("%s has an .interp section", path)
	}
}

func TestShellWords(t *testing.T) {
	got := shellWords(`go build -trimpath -ldflags='-s -w' -o "/out/x y" ./cmd/x`)
	want := []string{"go", "build", "-trimpath", "-ldflags=-s -w", "-o", "/out/x y", "./cmd/x"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
