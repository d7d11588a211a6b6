package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drover-dev/drover/pkg/checksum"
	"github.com/drover-dev/drover/pkg/request"
	"github.com/drover-dev/drover/pkg/store"
)

// InstallRequest says which driver to download and how to check it.
type InstallRequest struct {
	Name string `json:"name"`
	// URL to download the binary from: https, or http with a Checksum.
	URL string `json:"url"`
	// Checksum is the hex SHA-256 the download must have; empty trusts
	// what an https URL serves and records its checksum.
	Checksum string `json:"checksum"`
	// Address is "port" (the default: a bare port, as kontainer-engine
	// drivers expect) or "unix" (drivers built with Drover's sdk).
	Address string `json:"address"`
}

// InstallError is a refused install. Its message is safe to show: it names
// the field and never includes what the server downloaded.
type InstallError struct {
	Field string
	Msg   string
	Err   error // the cause, for the log
}

func (e *InstallError) Error() string { return e.Field + ": " + e.Msg }
func (e *InstallError) Unwrap() error { return e.Err }

// validate checks q and normalises it: the address defaults to port, and
// the checksum (any case, as checksum.Parse accepts it) becomes lower case.
func (q *InstallRequest) validate(builtin bool) error {
	var sumErr error
	if strings.TrimSpace(q.Checksum) == "" {
		q.Checksum = ""
	} else if sum, err := checksum.Parse(q.Checksum); err != nil {
		sumErr = err
	} else {
		q.Checksum = sum
	}
	if q.Address == "" {
		q.Address = AddressPort
	}
	u, err := url.Parse(q.URL)
	switch {
	case !validName(q.Name):
		return &InstallError{Field: "name", Msg: "must be a DNS label: 1-63 of a-z 0-9 -, starting and ending with a letter or digit"}
	case builtin:
		return &InstallError{Field: "name", Msg: fmt.Sprintf("%q is a built-in driver", q.Name), Err: ErrBuiltin}
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return &InstallError{Field: "url", Msg: "must be an http or https URL"}
	case u.User != nil:
		return &InstallError{Field: "url", Msg: "must not hold credentials"}
	case sumErr != nil:
		return &InstallError{Field: "checksum", Msg: sumErr.Error(), Err: sumErr}
	case u.Scheme == "http" && q.Checksum == "":
		return &InstallError{Field: "checksum", Msg: "is required for an http URL"}
	case q.Address != AddressPort && q.Address != AddressUnix:
		return &InstallError{Field: "address", Msg: `must be "port" or "unix"`}
	}
	return nil
}

// Install downloads a driver, checks its checksum (refusing a mismatch),
// starts it once to check that it answers and to read its schema, and
// registers it. Nothing is kept when any step fails.
func (r *Registry) Install(ctx context.Context, q InstallRequest) (Info, error) {
	_, builtin := r.builtins[q.Name]
	if err := q.validate(builtin); err != nil {
		return Info{}, err
	}
	if r.conf.refused != nil {
		return Info{}, fmt.Errorf("driver %q: %w", q.Name, r.conf.refused)
	}
	if _, err := r.opts.Store.Driver(ctx, q.Name); err == nil {
		return Info{}, fmt.Errorf("driver %q: %w", q.Name, ErrExists)
	} else if !errors.Is(err, store.ErrNotFound) {
		return Info{}, err
	}
	binDir := filepath.Join(r.opts.Dir, "bin")
	tmp, err := os.CreateTemp(binDir, "."+q.Name+".download-")
	if err != nil {
		return Info{}, err
	}
	defer os.Remove(tmp.Name())
	sum, err := r.download(ctx, q.URL, tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Info{}, &InstallError{Field: "url", Msg: "download failed: " + safeDownloadError(err), Err: err}
	}
	if q.Checksum != "" && !checksum.Equal(sum, q.Checksum) {
		return Info{}, &InstallError{Field: "checksum", Err: ErrChecksum,
			Msg: fmt.Sprintf("checksum mismatch: the file at the URL has sha256 %s, not %s; refusing it", sum, q.Checksum)}
	}
	if err := os.Chmod(tmp.Name(), 0o700); err != nil {
		return Info{}, err
	}
	info := Info{Name: q.Name, URL: q.URL, Checksum: sum, Address: q.Address, CreatedAt: r.opts.Now().UTC(),
		Sandboxed: r.conf.sandbox != nil, path: tmp.Name()}
	s, err := r.fetchSchema(ctx, info)
	if err != nil {
		return Info{}, &InstallError{Field: "url", Msg: "the downloaded driver does not work: " + SafeError(err), Err: err}
	}
	if err := r.opts.Store.CreateDriver(ctx, store.Driver{Name: q.Name, URL: q.URL, Checksum: sum, Address: q.Address,
		CreatedAt: info.CreatedAt}); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return Info{}, fmt.Errorf("driver %q: %w", q.Name, ErrExists)
		}
		return Info{}, err
	}
	info.path = filepath.Join(binDir, q.Name)
	if err := os.Rename(tmp.Name(), info.path); err != nil {
		r.opts.Store.DeleteDriver(ctx, q.Name)
		return Info{}, err
	}
	r.mu.Lock()
	r.schemas[q.Name] = cachedSchema{checksum: sum, schema: s}
	r.mu.Unlock()
	r.opts.Logger.Info("cluster driver installed", "driver", q.Name, "url", request.RedactURL(q.URL), "sha256", sum)
	return info, nil
}

// fetch downloads the binary of an installed driver that this server does
// not have (another server replica on the same database installed it):
// from the URL it was installed from, kept only if its checksum is the
// one recorded then. A binary that is there is left to the launcher's
// own check.
func (r *Registry) fetch(ctx context.Context, info Info) error {
	if info.Builtin || info.URL == "" {
		return nil
	}
	r.fetching.Lock()
	defer r.fetching.Unlock()
	if _, err := os.Stat(info.path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(info.path), "."+info.Name+".fetch-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	sum, err := r.download(ctx, info.URL, tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("driver %q: this server does not have its binary, and fetching it failed: %s", info.Name, safeDownloadError(err))
	}
	if !checksum.Equal(sum, info.Checksum) {
		return fmt.Errorf("driver %q: the file at its URL now has sha256 %s, not the %s it was installed with: %w",
			info.Name, sum, info.Checksum, ErrChecksum)
	}
	if err := os.Chmod(tmp.Name(), 0o700); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), info.path); err != nil {
		return err
	}
	r.opts.Logger.Info("fetched an installed cluster driver this server did not have", "driver", info.Name, "sha256", sum)
	return nil
}

// download writes the body at rawURL to w and returns its hex SHA-256.
func (r *Registry) download(ctx context.Context, rawURL string, w io.Writer) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := r.opts.HTTPClient.Do(req)
	if err != nil {
		// The error names the URL (maybe a redirect's) and is logged.
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = request.RedactURL(ue.URL)
		}
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", &statusError{resp.Status}
	}
	h := checksum.NewHasher()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(resp.Body, r.opts.MaxBinarySize+1))
	if err != nil {
		return "", err
	}
	if n > r.opts.MaxBinarySize {
		return "", &statusError{fmt.Sprintf("larger than %d MiB", r.opts.MaxBinarySize>>20)}
	}
	return h.Sum(), nil
}

type statusError struct{ s string }

func (e *statusError) Error() string { return e.s }

var errRedirect = errors.New("redirect refused")

// downloadClient follows at most 5 redirects, each to the scheme the
// download began with.
func downloadClient() *http.Client {
	return &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return fmt.Errorf("%w: more than 5 redirects", errRedirect)
		}
		if req.URL.Scheme != via[0].URL.Scheme {
			return fmt.Errorf("%w: from %s to %s", errRedirect, via[0].URL.Scheme, req.URL.Scheme)
		}
		return nil
	}}
}

// safeDownloadError describes a download failure without echoing anything
// the remote side sent.
func safeDownloadError(err error) string {
	var se *statusError
	switch {
	case errors.As(err, &se):
		return se.s
	case errors.Is(err, errRedirect):
		return "redirect refused (at most 5, and only to the same scheme)"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	}
	return "could not fetch the URL"
}
