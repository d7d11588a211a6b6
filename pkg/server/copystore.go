package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/drover-dev/drover/pkg/store"
)

// CopiedSuffix is appended to the SQLite store's file names once it has
// been copied into PostgreSQL: kept, so nothing is lost, and out of the
// way, so no server starts on it by mistake.
const CopiedSuffix = ".copied-to-postgres"

// CopyOptions say which data directory's store CopyToPostgres copies, and
// where to.
type CopyOptions struct {
	DataDir  string
	Database store.PostgresOptions
	Logger   *slog.Logger
}

// CopyResult is what CopyToPostgres copied: rows per table, and where the
// SQLite file went.
type CopyResult struct {
	Rows    map[string]int64
	MovedTo string
}

// CopyToPostgres copies the SQLite store of a stopped server's data
// directory into an empty PostgreSQL database (it takes the directory's
// lock, so a running server makes it fail and change nothing), then moves
// the SQLite files aside (CopiedSuffix). The data directory keeps the
// keys, CA and session keys the copied hashes and sealed secrets need: a
// server started on the same directory with the database serves the same
// agents, kubeconfigs and sessions.
func CopyToPostgres(ctx context.Context, opts CopyOptions) (CopyResult, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	path, unlock, err := lockStoppedStore(opts.DataDir, opts.Logger, ", or was it copied already?")
	if err != nil {
		return CopyResult{}, err
	}
	defer unlock()
	src, err := store.Open(ctx, path)
	if err != nil {
		return CopyResult{}, err
	}
	defer src.Close()
	dst, err := store.OpenPostgres(ctx, opts.Database)
	if err != nil {
		return CopyResult{}, err
	}
	defer dst.Close()
	rows, err := src.CopyTo(ctx, dst)
	if err != nil {
		return CopyResult{}, err
	}
	if err := src.Close(); err != nil {
		return CopyResult{}, err
	}
	// SQLite finds a write-ahead log by its database's name: move them all.
	for _, sfx := range []string{"", "-wal", "-shm"} {
		if err := os.Rename(path+sfx, path+CopiedSuffix+sfx); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return CopyResult{}, fmt.Errorf("copied, but moving %s aside: %w", path+sfx, err)
		}
	}
	return CopyResult{Rows: rows, MovedTo: path + CopiedSuffix}, nil
}
