package audit

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
)

// File is an audit log file that rotates by size, as logrotate would with
// "rotate N": when a line would take it past MaxBytes, path becomes
// path.1, path.1 becomes path.2 and so on, path.<Keep> is dropped, and a
// new path is started. The disk it uses is bounded by (Keep+1) × MaxBytes
// plus one line. Files are created 0600: the log names users and clusters.
type File struct {
	path string
	max  int64
	keep int

	mu   sync.Mutex
	f    *os.File
	size int64
}

// OpenFile opens (appending to) or creates the log at path.
func OpenFile(path string, maxBytes int64, keep int) (*File, error) {
	if maxBytes <= 0 || keep < 0 {
		return nil, fmt.Errorf("audit log rotation: size %d must be positive and backups %d not negative", maxBytes, keep)
	}
	l := &File{path: path, max: maxBytes, keep: keep}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *File) open() error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open audit log: %w", err)
	}
	l.f, l.size = f, st.Size()
	return nil
}

// Write appends b (one or more whole lines), rotating first if b would
// take the file past its size.
func (l *File) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, fs.ErrClosed
	}
	if l.size > 0 && l.size+int64(len(b)) > l.max {
		if err := l.rotate(); err != nil {
			// Keep logging into what is open rather than lose lines.
			if l.f == nil {
				return 0, err
			}
		}
	}
	n, err := l.f.Write(b)
	l.size += int64(n)
	return n, err
}

// rotate shifts the backups and starts a new file.
func (l *File) rotate() error {
	if err := l.f.Close(); err != nil {
		l.f = nil
		return l.open()
	}
	l.f = nil
	backup := func(i int) string { return fmt.Sprintf("%s.%d", l.path, i) }
	var err error
	if l.keep == 0 {
		err = os.Remove(l.path)
	} else {
		for i := l.keep - 1; i >= 1; i-- {
			if e := os.Rename(backup(i), backup(i+1)); e != nil && !errors.Is(e, fs.ErrNotExist) {
				err = e
			}
		}
		if e := os.Rename(l.path, backup(1)); e != nil {
			err = e
		}
	}
	if oerr := l.open(); oerr != nil {
		return oerr
	}
	if err != nil {
		return fmt.Errorf("rotate audit log: %w", err)
	}
	return nil
}

// Close closes the file.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Options say where and how the server writes its audit log.
type Options struct {
	// Path is the file to append to; "-" is stdout (Stdout); empty is
	// DefaultFile in the server's data directory (the caller fills it).
	Path   string
	Level  Level
	Format Format
	// MaxBytes and Backups rotate a file (not stdout): see File.
	MaxBytes int64
	Backups  int
}

// Defaults for a server's audit log.
const (
	DefaultFile     = "audit.log"
	DefaultMaxBytes = 100 << 20
	DefaultBackups  = 5
)

// Open opens the log o names; stdout is where "-" writes. With level
// none it returns a nil Log (nothing is written) and nothing to close.
func Open(o Options, stdout io.Writer) (*Log, func() error, error) {
	nothing := func() error { return nil }
	switch {
	case o.Level == LevelNone:
		return nil, nothing, nil
	case o.Path == "-":
		return NewFormat(stdout, o.Level, o.Format), nothing, nil
	case o.Path == "":
		return nil, nil, errors.New("audit log: no file given")
	}
	f, err := OpenFile(o.Path, o.MaxBytes, o.Backups)
	if err != nil {
		return nil, nil, err
	}
	return NewFormat(f, o.Level, o.Format), f.Close, nil
}
