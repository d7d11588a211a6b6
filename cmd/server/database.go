package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/drover-dev/drover/pkg/store"
)

// EnvDatabaseURL is where a database URL that carries its password may come
// from (never the command line, which other users of the machine can read).
const EnvDatabaseURL = "DROVER_DATABASE_URL"

// DatabaseOptions say where the store lives: the embedded SQLite store in
// the data directory, or a PostgreSQL database.
type DatabaseOptions struct {
	URL          string
	PasswordFile string
}

// Flags registers the options on fs.
func (o *DatabaseOptions) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&o.URL, "database-url", o.URL, "PostgreSQL URL of the store, postgres://user@host:port/db?sslmode=verify-full "+
		"(default: $"+EnvDatabaseURL+", else the embedded SQLite store in --data-dir); no password in it: see --database-password-file")
	fs.StringVar(&o.PasswordFile, "database-password-file", o.PasswordFile, "file holding the database password "+
		"(a mounted Secret; one trailing newline trimmed); PGPASSWORD and ~/.pgpass work too")
}

// Validate checks the options and takes the URL from the environment when
// the flag is not set.
func (o *DatabaseOptions) Validate() error {
	fromFlag := o.URL != ""
	if !fromFlag {
		o.URL = os.Getenv(EnvDatabaseURL)
	}
	if o.URL == "" {
		if o.PasswordFile != "" {
			return errors.New("--database-password-file needs --database-url")
		}
		return nil
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		// Never repeat the URL: it may hold a password.
		return errors.New("the database URL must be postgres://[user@]host[:port]/database[?options]")
	}
	if _, has := u.User.Password(); has && fromFlag {
		return errors.New("--database-url carries a password, which any user of this machine can read in the process list: " +
			"put it in --database-password-file, PGPASSWORD or $" + EnvDatabaseURL)
	}
	if strings.Contains(u.RawQuery, "password=") && fromFlag {
		return errors.New("--database-url carries a password in its query: put it in --database-password-file, PGPASSWORD or $" + EnvDatabaseURL)
	}
	return nil
}

// Postgres returns the store's PostgreSQL options (URL empty: SQLite),
// reading the password file.
func (o *DatabaseOptions) Postgres() (store.PostgresOptions, error) {
	if o.URL == "" {
		return store.PostgresOptions{}, nil
	}
	pg := store.PostgresOptions{URL: o.URL}
	if o.PasswordFile != "" {
		b, err := os.ReadFile(o.PasswordFile)
		if err != nil {
			return store.PostgresOptions{}, fmt.Errorf("--database-password-file: %w", err)
		}
		pg.Password = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if pg.Password == "" {
			return store.PostgresOptions{}, fmt.Errorf("--database-password-file %s is empty", o.PasswordFile)
		}
	}
	return pg, nil
}
