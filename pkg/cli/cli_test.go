package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNormalizeURL(t *testing.T) {
	for _, c := range []struct {
		in, want, err string
	}{
		{in: "https://drover.example.com", want: "https://drover.example.com"},
		{in: "https://Drover.Example.com:8443/", want: "https://drover.example.com:8443"},
		{in: "drover.example.com:8443", want: "https://drover.example.com:8443"},
		{in: "https://[::1]:8443", want: "https://[::1]:8443"},
		{in: "http://drover.example.com", err: "only https"},
		{in: "https://drover.example.com/k8s/clusters/c-1", err: "without a path"},
		{in: "https://user:pw@drover.example.com", err: "only scheme, host and port"},
		{in: "https://drover.example.com?x=1", err: "only scheme, host and port"},
		{in: "https://", err: "no host"},
		{in: "https://:8443", err: "no host"},
		{in: "..", err: "neither a host name nor an IP address"},
		{in: "https://a..b", err: "neither a host name nor an IP address"},
		{in: "https://drover.example.com.", want: "https://drover.example.com"},
		{in: "https://dröver.example.com", err: "neither a host name nor an IP address"},
	} {
		got, err := NormalizeURL(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("NormalizeURL(%q) = %q, %v; want an error with %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("NormalizeURL(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func FuzzNormalizeURL(f *testing.F) {
	f.Add("https://drover.example.com:8443/")
	f.Add("drover.example.com")
	f.Add("https://[::1]:1/x?y#z")
	f.Add("..")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := NormalizeURL(in)
		if err != nil {
			return
		}
		// Normal forms are fixed points: the key of a server is stable.
		again, err := NormalizeURL(got)
		if err != nil || again != got || !strings.HasPrefix(got, "https://") {
			t.Fatalf("NormalizeURL(%q) = %q, then %q, %v", in, got, again, err)
		}
	})
}

func TestReadPassword(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{in: "secret\n", want: "secret"},
		{in: "secret\r\n", want: "secret"},
		{in: "secret", want: "secret"},
		{in: "secret\n\n", want: "secret\n"}, // one newline only
		{in: " spaced \n", want: " spaced "},
		{in: "\n", err: "no password"},
		{in: "", err: "no password"},
		{in: strings.Repeat("x", 64<<10+1), err: "over 64 KiB"},
	} {
		got, err := ReadPassword(strings.NewReader(c.in))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ReadPassword(%.20q) = %q, %v; want an error with %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || string(got) != c.want {
			t.Errorf("ReadPassword(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestConfigFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "drover")
	empty, err := Load(dir)
	if err != nil || len(empty.Servers) != 0 {
		t.Fatalf("Load of a missing config = %+v, %v; want an empty one", empty, err)
	}
	want := &Config{Current: "https://a.example", Servers: map[string]*Server{"https://a.example": {
		URL: "https://a.example", CA: "pem", Provider: "local", Username: "ann", Session: "jwt", SessionID: "s-1",
		ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
	}}}
	if err := want.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config after Save and Load (-want +got):\n%s", diff)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the directory holds %d files; want only the config (no temporary file left)", len(entries))
	}
	if _, err := got.Lookup(""); err != nil {
		t.Errorf("Lookup of the current server: %v", err)
	}
	if _, err := got.Lookup("https://b.example"); err == nil || !strings.Contains(err.Error(), "not logged in to https://b.example") {
		t.Errorf("Lookup of another server: %v", err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o666} {
		os.Chmod(filepath.Join(dir, fileName), mode)
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("Load of a config with mode %04o: %v; want a refusal", mode, err)
		}
	}
}
