package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
)

// notifyChannel is the PostgreSQL channel replicas tell one another on.
const notifyChannel = "drover_events"

// ErrNoNotify is returned by Listen on a store that cannot tell other
// servers anything (SQLite: a server alone).
var ErrNoNotify = errors.New("this store has no notifications")

// Notify tells every server listening on the database (Listen) payload,
// after the caller's changes committed. On SQLite it does nothing.
func (s *Store) Notify(ctx context.Context, payload string) error {
	if s.db.dialect != dialectPostgres {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `SELECT pg_notify(?, ?)`, notifyChannel, payload); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// Listen calls f with every payload Notify sends, from any server
// (itself included), in order, on a connection of its own, until ctx ends
// or the connection breaks (an error; the caller listens again, and must
// assume it missed notifications in between). ready is called once the
// connection listens.
func (s *Store) Listen(ctx context.Context, ready func(), f func(payload string)) error {
	if s.db.dialect != dialectPostgres {
		return ErrNoNotify
	}
	conn, err := s.db.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		if _, err := c.Exec(ctx, `LISTEN `+notifyChannel); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		// Whatever happens next, this connection goes back to the pool
		// listening: stop, or drop it if it cannot.
		defer func() {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			if _, err := c.Exec(uctx, `UNLISTEN *`); err != nil {
				c.Close(uctx)
			}
		}()
		ready()
		for {
			n, err := c.WaitForNotification(ctx)
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
			f(n.Payload)
		}
	})
}
