package driver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/drover-dev/drover/pkg/driver/driverpb"
	"github.com/drover-dev/drover/pkg/driver/schema"
	"github.com/drover-dev/drover/pkg/store"
)

// Errors of the registry.
var (
	ErrNotFound = errors.New("no such driver")
	ErrExists   = errors.New("a driver of that name exists")
	ErrBuiltin  = errors.New("built-in drivers cannot be changed through the API")
)

// Store keeps the installed drivers (satisfied by *store.Store).
type Store interface {
	CreateDriver(ctx context.Context, d store.Driver) error
	Driver(ctx context.Context, name string) (store.Driver, error)
	ListDrivers(ctx context.Context) ([]store.Driver, error)
	DeleteDriver(ctx context.Context, name string) error
}

// Options configure a Registry.
type Options struct {
	// Dir holds the server's files about drivers, inside its data
	// directory: bin/ (installed binaries) and logs/<name>.log (what each
	// driver prints).
	Dir string
	// StateDir holds the drivers' own files, outside the server's data
	// directory: home/<name> (each driver's HOME, kept across runs) and
	// run/ (one directory per running driver). Required.
	StateDir string
	// Sandbox confines drivers when the server runs as root.
	Sandbox SandboxOptions
	// AllowUnsandboxed lets a server that does not run as root run drivers
	// as its own user; without it such a server refuses to run them.
	AllowUnsandboxed bool
	// BuiltinDir holds built-in drivers: executables named driver-<name>
	// (told a unix socket) or kontainer-engine-driver-<name> (told a port).
	// Empty: none.
	BuiltinDir string
	Store      Store
	Logger     *slog.Logger
	// AnswerTimeout bounds how long a started driver may take to answer
	// (default 10 s); StopGrace how long it has to exit after SIGTERM
	// (default 3 s).
	AnswerTimeout time.Duration
	StopGrace     time.Duration
	// HTTPClient downloads drivers; nil means a client that follows at
	// most 5 redirects, none to another scheme.
	HTTPClient *http.Client
	// MaxBinarySize bounds a download (default 256 MiB).
	MaxBinarySize int64
	Now           func() time.Time

	// geteuid is the server's effective uid (tests fake it).
	geteuid func() int
}

// Info describes a registered driver.
type Info struct {
	Name     string `json:"name"`
	URL      string `json:"url,omitempty"`
	Checksum string `json:"checksum"`
	Builtin  bool   `json:"builtin"`
	Address  string `json:"address"`
	// Sandboxed is false when drivers run as the server's user (a server
	// that is not root, with --allow-unsandboxed-drivers) or not at all.
	Sandboxed bool      `json:"sandboxed"`
	CreatedAt time.Time `json:"createdAt,omitzero"`
	path      string
}

// Registry knows the drivers, launches them and caches their schemas.
type Registry struct {
	opts     Options
	builtins map[string]Info
	conf     confinement

	mu      sync.Mutex
	schemas map[string]cachedSchema
	// fetching serialises fetches of installed binaries this server lacks.
	fetching sync.Mutex
}

type cachedSchema struct {
	checksum string
	schema   schema.Schema
}

// validName reports whether name may name a driver: a DNS-1123 label, as
// it becomes part of file names and of kontainer-engine's conventions.
func validName(name string) bool { return len(validation.IsDNS1123Label(name)) == 0 }

// New scans the built-in drivers (recording each one's checksum now, so a
// later change to the file is refused at launch) and clears run
// directories a previous server left.
func New(opts Options) (*Registry, error) {
	if opts.AnswerTimeout <= 0 {
		opts.AnswerTimeout = 10 * time.Second
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = 3 * time.Second
	}
	if opts.MaxBinarySize <= 0 {
		opts.MaxBinarySize = 256 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = downloadClient()
	}
	if opts.geteuid == nil {
		opts.geteuid = os.Geteuid
	}
	if opts.StateDir == "" {
		return nil, errors.New("drivers: no state directory")
	}
	conf, err := confine(opts, opts.geteuid())
	if err != nil {
		return nil, fmt.Errorf("drivers: %w", err)
	}
	for _, d := range []string{"bin", "logs"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("drivers: %w", err)
		}
	}
	// Run directories a previous server left (and those of servers that
	// kept them in the data directory).
	for _, root := range []string{filepath.Join(opts.StateDir, "run"), filepath.Join(opts.Dir, "run")} {
		old, _ := filepath.Glob(filepath.Join(root, "*"))
		for _, d := range old {
			os.RemoveAll(d)
		}
	}
	switch {
	case conf.refused != nil:
		opts.Logger.Warn("cluster drivers are refused", "reason", conf.refused)
	case conf.sandbox == nil:
		opts.Logger.Warn("cluster drivers run unsandboxed, as the server's user: they can read its keys and database")
	default:
		opts.Logger.Info("cluster drivers run sandboxed", "uid", conf.sandbox.UID, "gid", conf.sandbox.GID,
			"stateDir", opts.StateDir, "share", conf.sandbox.Share)
	}
	r := &Registry{opts: opts, builtins: map[string]Info{}, schemas: map[string]cachedSchema{}, conf: conf}
	if opts.BuiltinDir == "" {
		return r, nil
	}
	entries, err := os.ReadDir(opts.BuiltinDir)
	if err != nil {
		return nil, fmt.Errorf("built-in drivers: %w", err)
	}
	for _, e := range entries {
		name, addr := "", ""
		switch {
		case strings.HasPrefix(e.Name(), "kontainer-engine-driver-"):
			name, addr = strings.TrimPrefix(e.Name(), "kontainer-engine-driver-"), AddressPort
		case strings.HasPrefix(e.Name(), "driver-"):
			name, addr = strings.TrimPrefix(e.Name(), "driver-"), AddressUnix
		default:
			continue
		}
		path := filepath.Join(opts.BuiltinDir, e.Name())
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o100 == 0 || !validName(name) {
			opts.Logger.Warn("skipping file in the built-in driver directory", "file", path)
			continue
		}
		sum, err := fileSum(path)
		if err != nil {
			return nil, fmt.Errorf("built-in driver %s: %w", path, err)
		}
		r.builtins[name] = Info{Name: name, Checksum: sum, Builtin: true, Address: addr, Sandboxed: conf.sandbox != nil, path: path}
		opts.Logger.Info("built-in cluster driver", "driver", name, "path", path, "sha256", sum)
	}
	return r, nil
}

// List returns every driver, built-in ones first, each group by name.
func (r *Registry) List(ctx context.Context) ([]Info, error) {
	out := make([]Info, 0, len(r.builtins))
	for _, b := range r.builtins {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	installed, err := r.opts.Store.ListDrivers(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range installed {
		out = append(out, r.fromStore(d))
	}
	return out, nil
}

func (r *Registry) fromStore(d store.Driver) Info {
	return Info{Name: d.Name, URL: d.URL, Checksum: d.Checksum, Address: d.Address, CreatedAt: d.CreatedAt,
		Sandboxed: r.conf.sandbox != nil, path: filepath.Join(r.opts.Dir, "bin", d.Name)}
}

// Get returns one driver; ErrNotFound when there is none of that name.
func (r *Registry) Get(ctx context.Context, name string) (Info, error) {
	if b, ok := r.builtins[name]; ok {
		return b, nil
	}
	if !validName(name) {
		return Info{}, fmt.Errorf("driver %q: %w", name, ErrNotFound)
	}
	d, err := r.opts.Store.Driver(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return Info{}, fmt.Errorf("driver %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Info{}, err
	}
	return r.fromStore(d), nil
}

// Launch starts the named driver and returns once it answers. The caller
// must Close the client, which stops the driver.
func (r *Registry) Launch(ctx context.Context, name string) (*Client, error) {
	info, err := r.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return r.launch(ctx, info)
}

func (r *Registry) launch(ctx context.Context, info Info) (*Client, error) {
	if r.conf.refused != nil {
		return nil, fmt.Errorf("driver %q: %w", info.Name, r.conf.refused)
	}
	logPath := filepath.Join(r.opts.Dir, "logs", info.Name+".log")
	if fi, err := os.Stat(logPath); err == nil && fi.Size() > 10<<20 {
		os.Truncate(logPath, 0)
	}
	c, err := r.start(ctx, info, logPath)
	if err != nil {
		r.opts.Logger.Warn("launch cluster driver", "driver", info.Name, "err", err)
		return nil, err
	}
	return c, nil
}

func (r *Registry) start(ctx context.Context, info Info, logPath string) (*Client, error) {
	if err := r.fetch(ctx, info); err != nil {
		return nil, err
	}
	if err := prepareStateRoots(r.opts.StateDir, r.conf.sandbox); err != nil {
		return nil, fmt.Errorf("driver %q: state directory: %w", info.Name, err)
	}
	// The sandbox mounts resolved paths.
	state, err := filepath.EvalSymlinks(r.opts.StateDir)
	if err != nil {
		return nil, fmt.Errorf("driver %q: state directory: %w", info.Name, err)
	}
	return launch(ctx, launchSpec{
		Name: info.Name, Binary: info.path, Checksum: info.Checksum, Address: info.Address,
		Home: filepath.Join(state, "home", info.Name), RunRoot: filepath.Join(state, "run"),
		LogPath: logPath, AnswerTimeout: r.opts.AnswerTimeout, StopGrace: r.opts.StopGrace, Sandbox: r.conf.sandbox,
	})
}

// Schema returns the named driver's config schema, asking the driver the
// first time (and again after its binary changed).
func (r *Registry) Schema(ctx context.Context, name string) (schema.Schema, error) {
	info, err := r.Get(ctx, name)
	if err != nil {
		return schema.Schema{}, err
	}
	r.mu.Lock()
	c, ok := r.schemas[name]
	r.mu.Unlock()
	if ok && c.checksum == info.Checksum {
		return c.schema, nil
	}
	s, err := r.fetchSchema(ctx, info)
	if err != nil {
		return schema.Schema{}, err
	}
	r.mu.Lock()
	r.schemas[name] = cachedSchema{checksum: info.Checksum, schema: s}
	r.mu.Unlock()
	return s, nil
}

func (r *Registry) fetchSchema(ctx context.Context, info Info) (schema.Schema, error) {
	cl, err := r.launch(ctx, info)
	if err != nil {
		return schema.Schema{}, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	create, err := cl.GetDriverCreateOptions(ctx, &driverpb.Empty{})
	if err != nil {
		return schema.Schema{}, fmt.Errorf("driver %q: GetDriverCreateOptions: %w", info.Name, err)
	}
	update, err := cl.GetDriverUpdateOptions(ctx, &driverpb.Empty{})
	if status.Code(err) == codes.Unimplemented {
		update, err = &driverpb.DriverFlags{}, nil
	}
	if err != nil {
		return schema.Schema{}, fmt.Errorf("driver %q: GetDriverUpdateOptions: %w", info.Name, err)
	}
	s, err := schema.FromFlags(info.Name, create, update)
	if err != nil {
		return schema.Schema{}, fmt.Errorf("driver %q: %w", info.Name, err)
	}
	return s, nil
}

// Delete removes an installed driver and its files; the store refuses
// (store.ErrConflict) while a cluster uses it.
func (r *Registry) Delete(ctx context.Context, name string) error {
	if _, ok := r.builtins[name]; ok {
		return fmt.Errorf("driver %q: %w", name, ErrBuiltin)
	}
	if err := r.opts.Store.DeleteDriver(ctx, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("driver %q: %w", name, ErrNotFound)
		}
		return err
	}
	r.mu.Lock()
	delete(r.schemas, name)
	r.mu.Unlock()
	os.Remove(filepath.Join(r.opts.Dir, "bin", name))
	os.RemoveAll(filepath.Join(r.opts.StateDir, "home", name))
	return nil
}

// Call starts the named driver, runs fn with it and stops it, whatever fn
// returns.
func (r *Registry) Call(ctx context.Context, name string, fn func(context.Context, driverpb.DriverClient) error) error {
	c, err := r.Launch(ctx, name)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(ctx, c)
}
