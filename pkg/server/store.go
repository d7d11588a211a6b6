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
