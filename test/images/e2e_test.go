package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// entriesOf writes img and returns its run config and its layer's entries
// by path ("/x"): "dir", "file <content>" or "link <target>".
func entriesOf(t *testing.T, img Image) (runConfig, map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, img); err != nil {
		t.Fatal(err)
	}
	files := readArchive(t, buf.Bytes())
	var index imageIndex
	if err := json.Unmarshal(files["index.json"], &index); err != nil {
		t.Fatal(err)
	}
	var m imageManifest
	if err := json.Unmarshal(blob(t, files, index.Manifests[0]), &m); err != nil {
		t.Fatal(err)
	}
	var cfg imageConfig
	if err := json.Unmarshal(blob(t, files, m.Config), &cfg); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(blob(t, files, m.Layers[0])))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := "/" + filepath.Clean(h.Name)
		if _, dup := out[name]; dup {
			t.Errorf("%s twice in the layer", name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			out[name] = "dir"
		case tar.TypeSymlink:
			out[name] = "link " + h.Linkname
		default:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out[name] = "file " + string(b)
		}
	}
	return cfg.Config, out
}

func TestE2EImages(t *testing.T) {
	const bb = "/bin/busybox"
	if _, err := os.Stat(bb); err != nil {
		t.Fatalf("%s: %v (make testbed-runtime installs busybox-static)", bb, err)
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	agnhostBin := write("agnhost", "AGNHOST")
	write("porter/localhost.crt", "CRT")
	write("porter/localhost.key", "KEY")
	index := write("httpd/index.html", "<h1>It works!</h1>")
	write("kitten/kitten.jpg", "JPG")
	write("kitten/data.json", `{"image":"kitten.jpg"}`)
	if err := os.MkdirAll(filepath.Join(dir, "kitten", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	agnhost, err := Agnhost(ctx, "registry.k8s.io/e2e-test-images/agnhost:2.53", agnhostBin, bb, filepath.Join(dir, "porter"))
	if err != nil {
		t.Fatal(err)
	}
	kitten, err := AgnhostWebServer("registry.k8s.io/e2e-test-images/kitten:1.7", agnhost, filepath.Join(dir, "kitten"))
	if err != nil {
		t.Fatal(err)
	}
	httpd, err := BusyboxHTTPD(ctx, "registry.k8s.io/e2e-test-images/httpd:2.4.38-4", bb, index)
	if err != nil {
		t.Fatal(err)
	}
	busybox, err := E2EBusybox(ctx, "registry.k8s.io/e2e-test-images/busybox:1.36.1-1", bb)
	if err != nil {
		t.Fatal(err)
	}
	stdPath := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	tests := []struct {
		name    string
		img     Image
		want    runConfig
		files   map[string]string // must be there with this content
		missing []string          // must not be there
	}{
		{
			name: "agnhost",
			img:  agnhost,
			want: runConfig{Entrypoint: []string{"/agnhost"}, Cmd: []string{"pause"}, Env: stdPath},
			files: map[string]string{
				"/agnhost": "file AGNHOST", "/agnhost-2": "link agnhost", "/uploads": "dir",
				"/localhost.crt": "file CRT", "/localhost.key": "file KEY",
				"/bin/sh": "link busybox", "/bin/nc": "link busybox", "/home/user-defined-in-image": "dir",
			},
			missing: []string{"/kitten.jpg", "/usr/local/apache2"},
		},
		{
			name: "kitten from agnhost",
			img:  kitten,
			want: runConfig{Entrypoint: []string{"/agnhost"}, Cmd: []string{"test-webserver"}, Env: stdPath},
			files: map[string]string{
				"/agnhost": "file AGNHOST", "/kitten.jpg": "file JPG", "/data.json": `file {"image":"kitten.jpg"}`,
			},
			missing: []string{"/sub"},
		},
		{
			name: "httpd is busybox httpd",
			img:  httpd,
			want: runConfig{Cmd: []string{"httpd", "-f", "-p", "80", "-h", "/usr/local/apache2/htdocs"}, Env: []string{"PATH=/bin"}, WorkingDir: "/usr/local/apache2"},
			files: map[string]string{
				"/usr/local/apache2/htdocs/index.html": "file <h1>It works!</h1>", "/bin/httpd": "link busybox", "/bin/tar": "link busybox",
			},
			missing: []string{"/agnhost"},
		},
		{
			name:    "busybox",
			img:     busybox,
			want:    runConfig{Cmd: []string{"sh"}, Env: stdPath},
			files:   map[string]string{"/bin/sh": "link busybox"},
			missing: []string{"/agnhost", "/usr/local/apache2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, entries := entriesOf(t, tt.img)
			if diff := cmp.Diff(tt.want, cfg); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			for p, want := range tt.files {
				if got := entries[p]; got != want {
					t.Errorf("%s: %q, want %q", p, got, want)
				}
			}
			for _, p := range tt.missing {
				if got, ok := entries[p]; ok {
					t.Errorf("%s is in the image (%q)", p, got)
				}
			}
		})
	}
	if _, err := AgnhostWebServer("x", agnhost, filepath.Join(dir, "nope")); err == nil {
		t.Error("AgnhostWebServer of a missing directory: no error")
	}
}

func TestSetFiles(t *testing.T) {
	tests := []struct {
		name       string
		files, set []File
		want       []string
	}{
		{name: "append", files: []File{{Path: "/a"}}, set: []File{{Path: "/b"}}, want: []string{"/a", "/b"}},
		{name: "replace in place", files: []File{{Path: "/a"}, {Path: "/b"}}, set: []File{{Path: "/a", Data: []byte("x")}}, want: []string{"/a x", "/b"}},
		{name: "nothing", files: []File{{Path: "/a"}}, want: []string{"/a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := append([]File(nil), tt.files...)
			var got []string
			for _, f := range setFiles(tt.files, tt.set...) {
				s := f.Path
				if len(f.Data) > 0 {
					s += " " + string(f.Data)
				}
				got = append(got, s)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(orig, tt.files); diff != "" {
				t.Errorf("the input changed (-want +got):\n%s", diff)
			}
		})
	}
}
