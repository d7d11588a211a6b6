package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drover-dev/drover/test/proc"
)

// EnvBin names the directory of PostgreSQL's server binaries.
const EnvBin = "PG_BIN"

// Superuser is the cluster's superuser; its password is Server.Password.
const Superuser = "drover"

const defaultBin = "/usr/lib/postgresql/15/bin"

// Find returns the directory holding initdb and postgres.
func Find() (string, error) {
	dir := os.Getenv(EnvBin)
	if dir == "" {
		dir = defaultBin
	}
	for _, b := range []string{"initdb", "postgres"} {
		if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("postgres: no executable %s in %s (set %s or run `make ha-tools`)", b, dir, EnvBin)
		}
	}
	return dir, nil
}

// Server is one running PostgreSQL cluster.
type Server struct {
	// Dir holds the cluster (Dir/data) and its log (Dir/postgres.log).
	Dir string
	// Port is the 127.0.0.1 port it listens on.
	Port int
	// Password is Superuser's password.
	Password string

	bin  string
	cred *syscall.Credential
	proc *proc.Process
	dbs  atomic.Int64
}

// StartT starts a server for a test (or, from TestMain, a package: pass
// nil and call Stop) and stops it at the test's end.
func StartT(t testing.TB) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("postgres log (%s):\n%s", s.LogPath(), proc.LogTail(s.LogPath(), 40))
		}
		s.Stop()
	})
	return s
}

// Start initialises a cluster in a new temporary directory and starts it.
func Start(ctx context.Context) (_ *Server, err error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "drover-postgres-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, bin: bin, cred: cred}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	var pw [16]byte
	rand.Read(pw[:])
	s.Password = hex.EncodeToString(pw[:])
	// The directory is root's; data and the password file are the
	// server user's. Others may traverse it to reach them.
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.Password+"\n"), 0o600); err != nil {
		return nil, err
	}
	defer os.Remove(pwfile)
	if cred != nil {
		if err := os.Chown(pwfile, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
		if err := os.Mkdir(data, 0o700); err != nil {
			return nil, err
		}
		if err := os.Chown(data, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	args := []string{"-D", data, "-U", Superuser, "--pwfile", pwfile, "--auth", "scram-sha-256",
		"--locale", "C", "--encoding", "UTF8", "--no-sync", "--no-instructions"}
	if err := proc.RunAs(cred, "initdb", filepath.Join(bin, "initdb"), args, dir, filepath.Join(dir, "initdb.log"), time.Minute); err != nil {
		return nil, err
	}
	const attempts = 3
	for i := 1; ; i++ {
		ports, err := proc.FreePorts(1)
		if err != nil {
			return nil, err
		}
		s.Port = ports[0]
		err = s.start(ctx)
		if err == nil {
			return s, nil
		}
		if i == attempts || s.proc == nil || !s.proc.PortInUse() || ctx.Err() != nil {
			return nil, err
		}
		s.proc.Stop(time.Second) // the port was taken between choosing and binding it
	}
}

// runAs is the user PostgreSQL runs as: this process's when it is not
// root, else nobody.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("postgres: running as root, and no user nobody to run PostgreSQL as: %w", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("postgres: user nobody: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// LogPath is the server's log.
func (s *Server) LogPath() string { return filepath.Join(s.Dir, "postgres.log") }

// Pid is the postmaster's pid.
func (s *Server) Pid() int { return s.proc.Pid() }

func (s *Server) start(ctx context.Context) error {
	args := []string{"-D", filepath.Join(s.Dir, "data"),
		"-c", "listen_addresses=127.0.0.1", "-p", strconv.Itoa(s.Port),
		"-c", "unix_socket_directories=",
		// A throwaway cluster: durability is not what the tests measure.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=32MB",
		"-c", "dynamic_shared_memory_type=mmap",
		"-c", "log_min_messages=warning", "-c", "log_min_error_statement=panic"}
	var err error
	s.proc, err = proc.StartAs(s.cred, "postgres", filepath.Join(s.bin, "postgres"), args, s.Dir, s.LogPath())
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for {
		if s.proc.Exited() {
			return s.proc.ExitError()
		}
		if last = s.ping(ctx); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres: not ready within 30s: %w; last lines of %s:\n%s", last, s.LogPath(), proc.LogTail(s.LogPath(), 40))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres: waiting for the server: %w (last: %v)", ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Server) ping(ctx context.Context) error {
	c, err := s.Connect(ctx, "postgres")
	if err != nil {
		return err
	}
	return c.Close(ctx)
}

// URL is the address of database db, without the password (the store
// reads it from a file or the environment).
func (s *Server) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User(Superuser), Host: "127.0.0.1:" + strconv.Itoa(s.Port),
		Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// Connect opens a superuser connection to database db.
func (s *Server) Connect(ctx context.Context, db string) (*pgx.Conn, error) {
	return s.connect(ctx, db, s.Password)
}

func (s *Server) connect(ctx context.Context, db, password string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(s.URL(db))
	if err != nil {
		return nil, err
	}
	cfg.Password = password
	cfg.ConnectTimeout = 5 * time.Second
	return pgx.ConnectConfig(ctx, cfg)
}

// NewDatabase creates an empty database with a fresh name and returns its
// name.
func (s *Server) NewDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.dbs.Add(1))
	c, err := s.Connect(ctx, "postgres")
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		return "", fmt.Errorf("postgres: create database %s: %w", name, err)
	}
	return name, nil
}

// NewDatabaseT is NewDatabase for a test; the database is left to the
// server's removal.
func (s *Server) NewDatabaseT(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name, err := s.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// Restart stops the server (fast shutdown, or at once with kill) and starts
// it again on the same data and port.
func (s *Server) Restart(ctx context.Context, kill bool) error {
	if kill {
		s.proc.Signal(syscall.SIGKILL)
		<-s.proc.Done()
	} else {
		s.shutdown()
	}
	// After a kill the postmaster's children may still hold its shared
	// memory for a moment, and a new postmaster refuses to start beside
	// it ("pre-existing shared memory block is still in use"): try again.
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := s.start(ctx)
		if err == nil || !strings.Contains(err.Error(), "pre-existing shared memory block") || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Process is the running postmaster, for tests that signal it.
func (s *Server) Process() *proc.Process { return s.proc }

func (s *Server) shutdown() {
	if s.proc == nil {
		return
	}
	s.proc.Signal(syscall.SIGINT) // fast shutdown: does not wait for clients
	select {
	case <-s.proc.Done():
	case <-time.After(10 * time.Second):
		s.proc.Stop(time.Second)
	}
}

// Stop shuts the server down and removes its directory.
func (s *Server) Stop() {
	if s == nil {
		return
	}
	s.shutdown()
	if s.Dir != "" {
		os.RemoveAll(s.Dir)
	}
}
