package store

import (
	"context"
	"fmt"
	"time"
)

// SpendSecret records the secret of digest as used until expires: true
// when this call spent it, false when it was spent already (by any
// server). Entries past their expiry are swept on the way.
func (s *Store) SpendSecret(ctx context.Context, digest []byte, expires, now time.Time) (bool, error) {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM spent_secrets WHERE expires_at < ?`, unix(now)); err != nil {
		return false, fmt.Errorf("sweep spent secrets: %w", err)
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO spent_secrets (digest, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING`,
		digest, unix(expires))
	if err != nil {
		return false, fmt.Errorf("spend a secret: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RateLimit counts one event of the key of digest against a limit of burst
// events per per (GCRA, by the database's clock, so that every replica
// counts against one limit): ok, or refused with how long until the next
// event would be allowed. Keys that refilled are swept on the way.
func (s *Store) RateLimit(ctx context.Context, digest []byte, burst int, per time.Duration) (ok bool, retryAfter time.Duration, err error) {
	if burst < 1 || per <= 0 {
		return false, 0, fmt.Errorf("rate limit: burst %d per %v", burst, per)
	}
	now := s.db.dialect.nowMillis()
	interval := per.Milliseconds() / int64(burst)
	tolerance := per.Milliseconds()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM rate_limits WHERE tat < `+now); err != nil {
		return false, 0, fmt.Errorf("sweep rate limits: %w", err)
	}
	// The next arrival time is max(tat, now) + interval, allowed while it
	// is no more than tolerance ahead of now.
	next := `CASE WHEN rate_limits.tat > ` + now + ` THEN rate_limits.tat ELSE ` + now + ` END + ?`
	var tat int64
	err = s.db.QueryRowContext(ctx, `INSERT INTO rate_limits (digest, tat) VALUES (?, `+now+` + ?)
		ON CONFLICT(digest) DO UPDATE SET tat = `+next+`
		WHERE `+next+` - `+now+` <= ?
		RETURNING tat`, digest, interval, interval, interval, tolerance).Scan(&tat)
	switch err = mapErr(err); {
	case err == nil:
		return true, 0, nil
	case err != ErrNotFound:
		return false, 0, fmt.Errorf("rate limit: %w", err)
	}
	var wait int64
	if err := s.db.QueryRowContext(ctx, `SELECT tat + ? - ? - `+now+` FROM rate_limits WHERE digest = ?`,
		interval, tolerance, digest).Scan(&wait); err != nil {
		return false, time.Second, nil // refused; the row went meanwhile
	}
	return false, max(time.Duration(wait)*time.Millisecond, time.Millisecond), nil
}
