package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/drover-dev/drover/pkg/store"
)

// openStore opens the server's store: PostgreSQL when db has a URL, else
// the SQLite file in dataDir. It is the one place that choice is made.
func openStore(ctx context.Context, dataDir string, db store.PostgresOptions, logger *slog.Logger) (*store.Store, error) {
	if db.URL == "" {
		return store.Open(ctx, filepath.Join(dataDir, storeFile))
	}
	if _, err := os.Stat(filepath.Join(dataDir, storeFile)); err == nil {
		// A server that once ran on SQLite and was pointed at a database
		// without `drover-server copy-to-postgres` would start empty.
		return nil, fmt.Errorf("%s holds an SQLite store, but --database-url is set: copy it with "+
			"`drover-server copy-to-postgres` (which moves the file aside), or remove it if it is not wanted", dataDir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	db.Logger = logger
	st, err := store.OpenPostgres(ctx, db)
	if err != nil {
		return nil, err
	}
	logger.Info("store on PostgreSQL", "schema", store.LatestSchema())
	return st, nil
}

// lockStoppedStore takes the lock of the data directory of a stopped
// server for an offline command, and returns the path of its SQLite store,
// which must exist (hint ends the error that says it does not).
func lockStoppedStore(dataDir string, logger *slog.Logger, hint string) (path string, unlock func(), err error) {
	path = filepath.Join(dataDir, storeFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("no Drover store in %s (is it the server's --data-dir%s)", dataDir, hint)
	} else if err != nil {
		return "", nil, err
	}
	unlock, err = lockDataDir(dataDir, logger)
	if err != nil {
		return "", nil, fmt.Errorf("%w; stop the server first", err)
	}
	return path, unlock, nil
}
