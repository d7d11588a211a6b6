package server

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/drover-dev/drover/pkg/store"
	"github.com/drover-dev/drover/pkg/version"
)

// A backup is a gzipped tar of everything a server needs to be the same
// server elsewhere: the store (a consistent snapshot taken while the server
// runs), the secrets key that seals what the store holds sealed, the
// session signing keys (login sessions go on working), the CA and serving
// certificate with their keys (agents pin the CA; kubeconfigs embed it),
// and the installed cluster drivers. Its first entry, manifest.json, lists
// every file with its size and SHA-256; Restore checks each against it.
// Logs, the audit log and the lock are not in it.
//
// It holds every secret of the server: keep it as carefully as the data
// directory (it is written 0600).

// manifestName is the backup's first entry.
const manifestName = "manifest.json"

// backupFormat is the version of the backup's layout.
const backupFormat = 1

// backupManifest describes a backup.
type backupManifest struct {
	Format    int          `json:"format"`
	CreatedAt time.Time    `json:"createdAt"`
	Server    string       `json:"server"` // the version that wrote it
	Schema    int          `json:"schema"` // the store's schema version
	Files     []backupFile `json:"files"`
}

type backupFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// backupNames are the names a backup may hold: relative to the data
// directory, the secrets key under its own name.
var backupNames = regexp.MustCompile(`^(` + regexp.QuoteMeta(storeFile) + `|secrets\.key|session-keys\.json|tls/[A-Za-z0-9._-]+|drivers/bin/[a-z0-9][a-z0-9-]*)$`)

// secretsKeyName is the secrets key's name in a backup, wherever
// --secrets-key-file kept it.
const secretsKeyName = "secrets.key"

// BackupOptions say what to back up and where to.
type BackupOptions struct {
	DataDir string
	// SecretsKeyFile is the server's --secrets-key-file (empty: the data
	// directory's).
	SecretsKeyFile string
	// Out receives the backup.
	Out io.Writer
	Now func() time.Time
}

// BackupResult says what a backup holds.
type BackupResult struct {
	Files []string
	Bytes int64
}

// Backup writes a backup of the data directory to opts.Out; the server
// may be running.
func Backup(ctx context.Context, opts BackupOptions) (BackupResult, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	db := filepath.Join(opts.DataDir, storeFile)
	if _, err := os.Stat(db); err != nil {
		return BackupResult{}, fmt.Errorf("no Drover store in %s (is it the server's --data-dir?): %w", opts.DataDir, err)
	}
	tmp, err := os.MkdirTemp("", "drover-backup-")
	if err != nil {
		return BackupResult{}, err
	}
	defer os.RemoveAll(tmp)
	snap := filepath.Join(tmp, storeFile)
	if err := store.Snapshot(ctx, db, snap); err != nil {
		return BackupResult{}, err
	}
	schema, err := store.SchemaVersion(ctx, snap)
	if err != nil {
		return BackupResult{}, err
	}
	keyFile := opts.SecretsKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(opts.DataDir, secretsKeyName)
	}
	sources := map[string]string{storeFile: snap, secretsKeyName: keyFile,
		"session-keys.json": filepath.Join(opts.DataDir, "session-keys.json")}
	for _, dir := range []string{"tls", "drivers/bin"} {
		entries, err := os.ReadDir(filepath.Join(opts.DataDir, dir))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return BackupResult{}, err
		}
		for _, e := range entries {
			if name := dir + "/" + e.Name(); e.Type().IsRegular() && backupNames.MatchString(name) {
				sources[name] = filepath.Join(opts.DataDir, dir, e.Name())
			}
		}
	}
	m := backupManifest{Format: backupFormat, CreatedAt: opts.Now().UTC(), Server: version.Get().Version, Schema: schema}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range sources {
			if !yield(n) {
				return
			}
		}
	})
	for _, n := range names {
		f, err := hashFile(sources[n])
		if errors.Is(err, fs.ErrNotExist) && n != storeFile && n != secretsKeyName {
			delete(sources, n) // a server that never made it (no session keys yet)
			continue
		}
		if err != nil {
			return BackupResult{}, err
		}
		f.Name = n
		m.Files = append(m.Files, f)
	}
	cw := &countingWriter{w: opts.Out}
	zw := gzip.NewWriter(cw)
	tw := tar.NewWriter(zw)
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return BackupResult{}, err
	}
	if err := writeEntry(tw, manifestName, int64(len(manifest)), m.CreatedAt, bytes.NewReader(manifest)); err != nil {
		return BackupResult{}, err
	}
	res := BackupResult{}
	for _, f := range m.Files {
		if err := copyEntry(tw, f, sources[f.Name], m.CreatedAt); err != nil {
			return BackupResult{}, err
		}
		res.Files = append(res.Files, f.Name)
	}
	if err := tw.Close(); err != nil {
		return BackupResult{}, err
	}
	if err := zw.Close(); err != nil {
		return BackupResult{}, err
	}
	res.Bytes = cw.n
	return res, nil
}

// copyEntry adds the file at src as f, refusing a file that changed since
// it was hashed (the snapshot cannot; the keys should not).
func copyEntry(tw *tar.Writer, f backupFile, src string, at time.Time) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	h := sha256.New()
	if err := writeEntry(tw, f.Name, f.Size, at, io.TeeReader(io.LimitReader(in, f.Size), h)); err != nil {
		return err
	}
	if hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return fmt.Errorf("%s changed while it was backed up; run the backup again", src)
	}
	return nil
}

func writeEntry(tw *tar.Writer, name string, size int64, at time.Time, r io.Reader) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: size, ModTime: at, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	n, err := io.Copy(tw, r)
	if err == nil && n != size {
		err = fmt.Errorf("%s: %d bytes, want %d", name, n, size)
	}
	return err
}

func hashFile(p string) (backupFile, error) {
	f, err := os.Open(p)
	if err != nil {
		return backupFile{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return backupFile{}, err
	}
	return backupFile{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// RestoreOptions say what to restore where.
type RestoreOptions struct {
	// DataDir is the data directory to restore into: it must hold no store.
	DataDir string
	// SecretsKeyFile is where the secrets key goes (the --secrets-key-file
	// the restored server will run with); empty: the data directory.
	SecretsKeyFile string
	In             io.Reader
}

// RestoreResult says what was restored.
type RestoreResult struct {
	Files     []string
	CreatedAt time.Time
	Server    string
}

// maxManifest bounds the manifest read before anything is trusted.
const maxManifest = 1 << 20

// Restore writes a backup into a fresh data directory (holding no store;
// the directory is locked meanwhile, so no server may be running on it).
// Every entry must be listed in the manifest, with its size and SHA-256,
// and have a name a backup may hold; the files land 0600 in 0700
// directories. The store is then opened, which migrates it to this
// server's schema. On any error the files written are removed.
func Restore(ctx context.Context, opts RestoreOptions) (res RestoreResult, err error) {
	if _, err := os.Stat(filepath.Join(opts.DataDir, storeFile)); err == nil {
		return RestoreResult{}, fmt.Errorf("%s already holds a Drover store: restore into a fresh data directory", opts.DataDir)
	}
	unlock, err := openDataDir(opts.DataDir, slog.New(slog.DiscardHandler))
	if err != nil {
		return RestoreResult{}, fmt.Errorf("%w; stop the server first", err)
	}
	defer unlock()
	var written []string
	defer func() {
		if err != nil {
			for _, p := range written {
				os.Remove(p)
			}
		}
	}()
	zr, err := gzip.NewReader(opts.In)
	if err != nil {
		return RestoreResult{}, fmt.Errorf("not a Drover backup (gzip): %w", err)
	}
	tr := tar.NewReader(zr)
	hdr, err := tr.Next()
	if err != nil || hdr.Name != manifestName || hdr.Size > maxManifest {
		return RestoreResult{}, errors.New("not a Drover backup: it does not start with its manifest")
	}
	var m backupManifest
	if err := json.NewDecoder(io.LimitReader(tr, maxManifest)).Decode(&m); err != nil {
		return RestoreResult{}, fmt.Errorf("the backup's manifest: %w", err)
	}
	if m.Format != backupFormat {
		return RestoreResult{}, fmt.Errorf("a backup of format %d; this server reads format %d", m.Format, backupFormat)
	}
	if m.Schema > store.LatestSchema() {
		return RestoreResult{}, fmt.Errorf("the backup's store has schema %d, newer than this server's %d: restore it with the server version that wrote it (%s) or newer",
			m.Schema, store.LatestSchema(), m.Server)
	}
	want := map[string]backupFile{}
	for _, f := range m.Files {
		if !backupNames.MatchString(f.Name) || f.Size < 0 {
			return RestoreResult{}, fmt.Errorf("the backup names %q, which no backup holds", f.Name)
		}
		want[f.Name] = f
	}
	for _, n := range []string{storeFile, secretsKeyName} {
		if _, ok := want[n]; !ok {
			return RestoreResult{}, fmt.Errorf("the backup holds no %s", n)
		}
	}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return RestoreResult{}, fmt.Errorf("read the backup: %w", err)
		}
		f, ok := want[hdr.Name]
		if !ok || hdr.Typeflag != tar.TypeReg || hdr.Size != f.Size {
			return RestoreResult{}, fmt.Errorf("the backup's entry %q is not in its manifest as it is", hdr.Name)
		}
		delete(want, hdr.Name)
		dst := filepath.Join(opts.DataDir, filepath.FromSlash(hdr.Name))
		if hdr.Name == secretsKeyName && opts.SecretsKeyFile != "" {
			dst = opts.SecretsKeyFile
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return RestoreResult{}, err
		}
		created, err := restoreFile(dst, io.LimitReader(tr, f.Size), f)
		if created {
			written = append(written, dst) // removed again if the restore fails
		}
		if err != nil {
			return RestoreResult{}, err
		}
		res.Files = append(res.Files, hdr.Name)
	}
	if len(want) > 0 {
		missing := slices.Sorted(func(yield func(string) bool) {
			for n := range want {
				if !yield(n) {
					return
				}
			}
		})
		return RestoreResult{}, fmt.Errorf("the backup is cut short: %v missing", missing)
	}
	st, err := store.Open(ctx, filepath.Join(opts.DataDir, storeFile))
	if err != nil {
		return RestoreResult{}, err
	}
	st.Close()
	res.CreatedAt, res.Server = m.CreatedAt, m.Server
	return res, nil
}

// restoreFile writes r to dst (which must not exist: a file already there
// is left alone), 0600, checking f's digest; created says whether it made
// dst.
func restoreFile(dst string, r io.Reader, f backupFile) (created bool, err error) {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, fmt.Errorf("restore %s: %w", path.Base(dst), err)
	}
	h := sha256.New()
	n, err := io.Copy(out, io.TeeReader(r, h))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return true, fmt.Errorf("restore %s: %w", f.Name, err)
	case n != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256:
		return true, fmt.Errorf("the backup's %s does not match its manifest (damaged or altered)", f.Name)
	}
	return true, nil
}
