package server

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/store"
)

// seedDataDir makes a data directory as a server leaves it, with a store
// that the returned function writes to until it is called again.
func seedDataDir(t *testing.T) (dir string, files map[string]string, st *store.Store) {
	t.Helper()
	dir = t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, storeFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateUser(ctx, store.User{ID: "u-1", Username: "alice", Provider: store.LocalProvider, CreatedAt: time.Now()}, []byte("h")); err != nil {
		t.Fatal(err)
	}
	files = map[string]string{
		"secrets.key":       "the sealing key",
		"session-keys.json": `{"keys":[]}`,
		"tls/ca.crt":        "CA", "tls/ca.key": "CA KEY", "tls/tls.crt": "CERT", "tls/tls.key": "KEY",
		"drivers/bin/local":  "a driver",
		"server.log":         "not backed up",
		"audit.log":          "not backed up",
		"drivers/logs/x.log": "not backed up",
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, files, st
}

// TestBackupRestore: a backup taken while the store is being written
// restores into a fresh directory as the same server: the store (a
// consistent snapshot, migrated), the keys, the CA and certificate, the
// drivers; not the logs. Files come back 0600 in 0700 directories.
func TestBackupRestore(t *testing.T) {
	dir, files, st := seedDataDir(t)
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // a server at work
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			st.CreateToken(ctx, store.Token{ID: fmt.Sprintf("t-%d", i), UserID: "u-1", Kind: store.KindAPI, CreatedAt: time.Now()})
		}
	})
	var buf bytes.Buffer
	res, err := Backup(ctx, BackupOptions{DataDir: dir, Out: &buf})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"drivers/bin/local", storeFile, "secrets.key", "session-keys.json", "tls/ca.crt", "tls/ca.key", "tls/tls.crt", "tls/tls.key"}
	if diff := cmp.Diff(want, res.Files); diff != "" {
		t.Errorf("backed up (-want +got):\n%s", diff)
	}

	fresh := filepath.Join(t.TempDir(), "restored")
	rr, err := Restore(ctx, RestoreOptions{DataDir: fresh, In: bytes.NewReader(buf.Bytes())})
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Files) != len(want) {
		t.Errorf("restored %v", rr.Files)
	}
	for name, content := range files {
		got, err := os.ReadFile(filepath.Join(fresh, filepath.FromSlash(name)))
		if strings.HasSuffix(name, ".log") {
			if err == nil {
				t.Errorf("%s was restored", name)
			}
			continue
		}
		if err != nil || string(got) != content {
			t.Errorf("%s: %q, %v; want %q", name, got, err, content)
		}
	}
	filepath.Walk(fresh, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if want := map[bool]os.FileMode{true: 0o700, false: 0o600}[fi.IsDir()]; fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
		return nil
	})
	rst, err := store.Open(ctx, filepath.Join(fresh, storeFile))
	if err != nil {
		t.Fatal(err)
	}
	defer rst.Close()
	if u, err := rst.UserByID(ctx, "u-1"); err != nil || u.Username != "alice" {
		t.Errorf("restored store: %+v, %v", u, err)
	}

	t.Run("not over a store", func(t *testing.T) {
		if _, err := Restore(ctx, RestoreOptions{DataDir: fresh, In: bytes.NewReader(buf.Bytes())}); err == nil ||
			!strings.Contains(err.Error(), "fresh data directory") {
			t.Errorf("restore over a store: %v", err)
		}
	})
	t.Run("a secrets key already there is left alone", func(t *testing.T) {
		key := filepath.Join(t.TempDir(), "key")
		os.WriteFile(key, []byte("another server's key"), 0o600)
		other := filepath.Join(t.TempDir(), "d")
		if _, err := Restore(ctx, RestoreOptions{DataDir: other, SecretsKeyFile: key, In: bytes.NewReader(buf.Bytes())}); err == nil {
			t.Fatal("restored over an existing secrets key")
		}
		if b, err := os.ReadFile(key); err != nil || string(b) != "another server's key" {
			t.Errorf("the existing key: %q %v", b, err)
		}
		if _, err := os.Stat(filepath.Join(other, storeFile)); err == nil {
			t.Error("the refused restore left a store")
		}
	})
	t.Run("elsewhere, the secrets key", func(t *testing.T) {
		key := filepath.Join(t.TempDir(), "key")
		other := filepath.Join(t.TempDir(), "d")
		if _, err := Restore(ctx, RestoreOptions{DataDir: other, SecretsKeyFile: key, In: bytes.NewReader(buf.Bytes())}); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(key); err != nil || string(b) != files["secrets.key"] {
			t.Errorf("secrets key: %q %v", b, err)
		}
	})
}

// forge writes a backup of the given manifest and entries.
func forge(t *testing.T, m backupManifest, entries []tar.Header, content map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	b, _ := json.Marshal(m)
	tw.WriteHeader(&tar.Header{Name: manifestName, Mode: 0o600, Size: int64(len(b)), Typeflag: tar.TypeReg})
	tw.Write(b)
	for _, h := range entries {
		h.Size = int64(len(content[h.Name]))
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		tw.WriteHeader(&h)
		io.WriteString(tw, content[h.Name])
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// TestRestoreRefuses: a damaged, altered, cut or hostile backup restores
// nothing, and says why.
func TestRestoreRefuses(t *testing.T) {
	dir, _, _ := seedDataDir(t)
	var good bytes.Buffer
	if _, err := Backup(context.Background(), BackupOptions{DataDir: dir, Out: &good}); err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), good.Bytes()...)
	flipped[len(flipped)/2] ^= 0x40
	sum := func(s string) backupFile {
		f, _ := hashFile(writeTemp(t, s))
		return f
	}
	key := sum("k")
	key.Name = "secrets.key"
	db := sum("not a database")
	db.Name = storeFile
	evil := sum("x")
	evil.Name = "../evil"
	link := backupFile{Name: "tls/ca.crt", SHA256: sum("").SHA256}
	for _, c := range []struct {
		name, want string
		archive    []byte
	}{
		{"not gzip", "not a Drover backup", []byte("plain text")},
		{"damaged", "", flipped},
		{"cut short", "", good.Bytes()[:len(good.Bytes())*2/3]},
		{"a path out of the directory", "no backup holds",
			forge(t, backupManifest{Format: backupFormat, Files: []backupFile{key, db, evil}}, nil, nil)},
		{"an entry not in the manifest", "not in its manifest",
			forge(t, backupManifest{Format: backupFormat, Files: []backupFile{key, db}},
				[]tar.Header{{Name: "tls/extra", Typeflag: tar.TypeReg}}, map[string]string{"tls/extra": "x"})},
		{"a symbolic link", "not in its manifest",
			forge(t, backupManifest{Format: backupFormat, Files: []backupFile{key, db, link}},
				[]tar.Header{{Name: "tls/ca.crt", Typeflag: tar.TypeSymlink, Linkname: "/etc/shadow"}}, nil)},
		{"altered content", "does not match its manifest",
			forge(t, backupManifest{Format: backupFormat, Files: []backupFile{key, db}},
				[]tar.Header{{Name: "secrets.key", Typeflag: tar.TypeReg}}, map[string]string{"secrets.key": "K"})},
		{"a newer schema", "newer than this server's",
			forge(t, backupManifest{Format: backupFormat, Schema: store.LatestSchema() + 1, Files: []backupFile{key, db}}, nil, nil)},
		{"another format", "format", forge(t, backupManifest{Format: 99}, nil, nil)},
	} {
		t.Run(c.name, func(t *testing.T) {
			to := filepath.Join(t.TempDir(), "d")
			_, err := Restore(context.Background(), RestoreOptions{DataDir: to, In: bytes.NewReader(c.archive)})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("restore: %v; want an error with %q", err, c.want)
			}
			if _, err := os.Stat(filepath.Join(to, storeFile)); err == nil {
				t.Error("a refused backup left a store behind")
			}
			if _, err := os.Stat(filepath.Join(to, "secrets.key")); err == nil {
				t.Error("a refused backup left the secrets key behind")
			}
		})
	}
}

func writeTemp(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte(s), 0o600)
	return p
}
