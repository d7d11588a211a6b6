package driver

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// needRoot fails t unless the test runs as root, which the sandbox needs.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test runs drivers in the sandbox, which needs root: run it as root (sudo -E go test ...), " +
			"or leave the sandbox tests out with -skip TestSandbox")
	}
}

// A server that is not root refuses drivers unless told otherwise, at
// install and at use, with an error that names the setting; when told, it
// runs them and says they are not sandboxed.
func TestDriverRefusedUnsandboxed(t *testing.T) {
	downloads := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { downloads++; w.Write([]byte("x")) }))
	defer srv.Close()
	builtins := builtinDir(t, nil)
	for _, allow := range []bool{false, true} {
		t.Run("allow="+strconv.FormatBool(allow), func(t *testing.T) {
			dir := t.TempDir()
			r, err := New(Options{Dir: filepath.Join(dir, "data", "drivers"), StateDir: filepath.Join(dir, "drivers"),
				BuiltinDir: builtins, Store: memStore{}, AllowUnsandboxed: allow, geteuid: func() int { return 1000 },
				AnswerTimeout: 20 * time.Second, StopGrace: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			list, err := r.List(ctx)
			if err != nil || len(list) != 1 || list[0].Sandboxed {
				t.Errorf("List = %+v, %v; want one driver, not sandboxed", list, err)
			}
			downloads = 0
			_, installErr := r.Install(ctx, InstallRequest{Name: "x", URL: srv.URL, Checksum: strings.Repeat("0", 64)})
			_, schemaErr := r.Schema(ctx, "fake")
			c, launchErr := r.Launch(ctx, "fake")
			if c != nil {
				c.Close()
			}
			if allow {
				var ie *InstallError
				if !errors.As(installErr, &ie) || ie.Field != "checksum" || downloads != 1 {
					t.Errorf("Install = %v after %d downloads; want the checksum refused after one", installErr, downloads)
				}
				if schemaErr != nil || launchErr != nil {
					t.Errorf("Schema: %v; Launch: %v", schemaErr, launchErr)
				}
				return
			}
			for what, err := range map[string]error{"Install": installErr, "Schema": schemaErr, "Launch": launchErr} {
				if !errors.Is(err, ErrUnsandboxed) || !strings.Contains(SafeError(err), "--allow-unsandboxed-drivers") ||
					!strings.Contains(SafeError(err), "uid 1000") {
					t.Errorf("%s = %v (safe: %q); want ErrUnsandboxed naming the flag", what, err, SafeError(err))
				}
			}
			if downloads != 0 {
				t.Errorf("a refused install downloaded %d times", downloads)
			}
		})
	}
}

func TestConfine(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	share := filepath.Join(dir, "bin")
	for _, d := range []string{data, filepath.Join(data, "sub"), share} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	type result struct {
		Refused, Sandboxed bool
		UID, GID           int
		Share, Hide        []string
	}
	tests := []struct {
		name    string
		euid    int
		opts    Options
		want    result
		wantErr string
	}{
		{name: "not root", euid: 1000, want: result{Refused: true}},
		{name: "not root, allowed", euid: 1000, opts: Options{AllowUnsandboxed: true}},
		{name: "root, defaults", euid: 0, want: result{Sandboxed: true, UID: DefaultUID, GID: DefaultGID,
			Share: []string{}, Hide: []string{filepath.Join(data, "drivers"), data}}},
		{name: "root ignores the permission", euid: 0, opts: Options{AllowUnsandboxed: true, Sandbox: SandboxOptions{UID: 1234, GID: 99, Share: []string{share}}},
			want: result{Sandboxed: true, UID: 1234, GID: 99, Share: []string{share}, Hide: []string{filepath.Join(data, "drivers"), data}}},
		{name: "state inside the data dir", euid: 0, opts: Options{StateDir: filepath.Join(data, "drivers-state")}, wantErr: "overlaps"},
		{name: "share inside the data dir", euid: 0, opts: Options{Sandbox: SandboxOptions{Share: []string{filepath.Join(data, "sub")}}}, wantErr: "overlaps"},
		{name: "share holding the data dir", euid: 0, opts: Options{Sandbox: SandboxOptions{Share: []string{dir}}}, wantErr: "overlaps"},
		{name: "missing share", euid: 0, opts: Options{Sandbox: SandboxOptions{Share: []string{filepath.Join(dir, "nope")}}}, wantErr: "share"},
		{name: "negative uid", euid: 0, opts: Options{Sandbox: SandboxOptions{UID: -1}}, wantErr: "must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.Dir = filepath.Join(data, "drivers")
			if o.StateDir == "" {
				o.StateDir = filepath.Join(dir, "data-drivers")
			}
			o.Sandbox.Hide = append(o.Sandbox.Hide, data)
			c, err := confine(o, tc.euid)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("confine = %v; want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := result{Refused: c.refused != nil, Sandboxed: c.sandbox != nil}
			if c.sandbox != nil {
				got.UID, got.GID, got.Share, got.Hide = c.sandbox.UID, c.sandbox.GID, c.sandbox.Share, c.sandbox.Hide
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("confinement (-want +got):\n%s", diff)
			}
		})
	}
}

// report is test/hostiledriver's.
type report struct {
	UID        int
	GID        int
	Groups     []int
	CapEff     string
	NoNewPrivs string
	Foreign    []string
	Setuid0    probe
	Reads      map[string]probe
	Writes     map[string]probe
	Signals    map[string]probe
}

type probe struct {
	OK    bool
	Errno string
	Err   string
}

// buildHostile builds test/hostiledriver as dir/driver-hostile.
func buildHostile(t *testing.T, dir string) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "driver-hostile"), "./test/hostiledriver")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the hostile driver: %v\n%s", err, out)
	}
}

// writeFiles writes name → mode files under dir.
func writeFiles(t *testing.T, dir string, files map[string]os.FileMode) {
	t.Helper()
	for name, mode := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("secret of "+name+"\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
}
