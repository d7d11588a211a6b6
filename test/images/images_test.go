package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// readArchive returns the outer archive's files by name.
func readArchive(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = data
	}
}

func TestWrite(t *testing.T) {
	src := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(src, []byte("#!binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		img       Image
		wantRef   string
		wantUser  string
		wantLayer []string // "name mode type"
		wantErr   bool
	}{
		{
			name:      "agent",
			img:       Agent("drover.invalid/agent:e2e", src),
			wantRef:   "e2e",
			wantUser:  "65532:65532",
			wantLayer: []string{"etc/ 755 dir", "etc/passwd 644 file", "etc/group 644 file", "home/ 755 dir", "home/nonroot/ 700 dir", "tmp/ 1777 dir", "drover-agent 755 file"},
		},
		{
			name:      "pause without a tag",
			img:       Pause("drover.invalid/pause", src),
			wantRef:   "latest",
			wantUser:  "65535:65535",
			wantLayer: []string{"pause 755 file"},
		},
		{
			name:    "relative path",
			img:     Image{Name: "x", Files: []File{{Path: "etc/x", Data: []byte("x")}}},
			wantErr: true,
		},
		{
			name:    "missing source",
			img:     Image{Name: "x", Files: []File{{Path: "/x", Source: filepath.Join(t.TempDir(), "nope")}}},
			wantErr: true,
		},
		{name: "no name", img: Image{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, tt.img)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Write: %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			files := readArchive(t, buf.Bytes())
			var index imageIndex
			if err := json.Unmarshal(files["index.json"], &index); err != nil {
				t.Fatal(err)
			}
			if len(index.Manifests) != 1 {
				t.Fatalf("index has %d manifests", len(index.Manifests))
			}
			d := index.Manifests[0]
			if diff := cmp.Diff(map[string]string{"io.containerd.image.name": tt.img.Name, "org.opencontainers.image.ref.name": tt.wantRef}, d.Annotations); diff != "" {
				t.Errorf("annotations (-want +got):\n%s", diff)
			}
			var m imageManifest
			if err := json.Unmarshal(blob(t, files, d), &m); err != nil {
				t.Fatal(err)
			}
			var cfg imageConfig
			if err := json.Unmarshal(blob(t, files, m.Config), &cfg); err != nil {
				t.Fatal(err)
			}
			if cfg.Config.User != tt.wantUser {
				t.Errorf("user %q, want %q", cfg.Config.User, tt.wantUser)
			}
			layer := blob(t, files, m.Layers[0])
			zr, err := gzip.NewReader(bytes.NewReader(layer))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if got := "sha256:" + digestHex(raw); got != cfg.RootFS.DiffIDs[0] {
				t.Errorf("diff ID %s, layer digest %s", cfg.RootFS.DiffIDs[0], got)
			}
			var got []string
			tr := tar.NewReader(bytes.NewReader(raw))
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				kind := map[byte]string{tar.TypeDir: "dir", tar.TypeReg: "file", tar.TypeSymlink: "link"}[h.Typeflag]
				got = append(got, h.Name+" "+strconvOctal(h.Mode)+" "+kind)
			}
			if diff := cmp.Diff(tt.wantLayer, got); diff != "" {
				t.Errorf("layer (-want +got):\n%s", diff)
			}
			// Reproducible: the same image gives the same bytes.
			var again bytes.Buffer
			if err := Write(&again, tt.img); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), again.Bytes()) {
				t.Error("two writes of the same image differ")
			}
		})
	}
}

func strconvOctal(m int64) string { return strconv.FormatInt(m, 8) }

// blob returns the blob d points at, checking its digest and size.
func blob(t *testing.T, files map[string][]byte, d descriptor) []byte {
	t.Helper()
	b, ok := files["blobs/sha256/"+d.Digest[len("sha256:"):]]
	if !ok {
		t.Fatalf("blob %s missing", d.Digest)
	}
	if "sha256:"+digestHex(b) != d.Digest || int64(len(b)) != d.Size {
		t.Fatalf("blob %s does not match its descriptor", d.Digest)
	}
	return b
}

func TestBusybox(t *testing.T) {
	const bin = "/bin/busybox"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s: %v (make testbed-runtime installs busybox-static)", bin, err)
	}
	img, err := Busybox(t.Context(), "drover.invalid/busybox:e2e", bin)
	if err != nil {
		t.Fatal(err)
	}
	links := map[string]bool{}
	for _, f := range img.Files {
		if f.Link != "" || f.Path == "/bin/printenv" {
			links[f.Path] = true
		}
	}
	for _, want := range []string{"/bin/sh", "/bin/tar", "/bin/httpd", "/bin/wget", "/bin/sha256sum", "/bin/printenv"} {
		if !links[want] {
			t.Errorf("no %s in the busybox image", want)
		}
	}
}

// TestPrintenvScript runs the printenv stand-in with busybox's sh, as the
// images do.
func TestPrintenvScript(t *testing.T) {
	const bin = "/bin/busybox"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s: %v (make testbed-runtime installs busybox-static)", bin, err)
	}
	script := filepath.Join(t.TempDir(), "printenv")
	if err := os.WriteFile(script, []byte(printenvScript), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"A=1", "B=two words", "EMPTY=", "Q=it's $HOME `x`"}
	tests := []struct {
		name     string
		args     []string
		want     string
		wantCode int
	}{
		{name: "one", args: []string{"A"}, want: "1\n"},
		{name: "several, in order", args: []string{"B", "A"}, want: "two words\n1\n"},
		{name: "empty value", args: []string{"EMPTY"}, want: "\n"},
		{name: "quotes and dollars kept", args: []string{"Q"}, want: "it's $HOME `x`\n"},
		{name: "unset", args: []string{"NOPE"}, wantCode: 1},
		{name: "unset among set", args: []string{"A", "NOPE", "B"}, want: "1\ntwo words\n", wantCode: 1},
		{name: "not a name", args: []string{"A;echo x"}, wantCode: 1},
		{name: "not a name, digit first", args: []string{"1A"}, wantCode: 1},
		// The script's shell adds PWD, SHLVL and a default PATH to what
		// it lists, as a printenv run from a shell sees them too.
		{name: "all", args: nil, want: "A=1\nB=two words\nEMPTY=\nQ=it's $HOME `x`\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"sh", script}, tt.args...)...)
			cmd.Env = env
			out, err := cmd.Output()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			got := string(out)
			if tt.args == nil {
				got = sortLines(withoutShellVars(got))
			}
			if diff := cmp.Diff([]any{tt.want, tt.wantCode}, []any{got, code}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func withoutShellVars(s string) string {
	var keep []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, "PWD=") && !strings.HasPrefix(l, "SHLVL=") && !strings.HasPrefix(l, "PATH=") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

func sortLines(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}
