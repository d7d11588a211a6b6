package store

import (
	"context"
	"fmt"
	"time"
)

// Driver is a cluster driver installed from a URL.
type Driver struct {
	Name      string
	URL       string
	Checksum  string // hex SHA-256 of the binary
	Address   string // how the driver is told where to listen: "unix" or "port"
	CreatedAt time.Time
}

// CreateDriver records an installed driver.
func (s *Store) CreateDriver(ctx context.Context, d Driver) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO drivers (name, url, checksum, address, created_at) VALUES (?, ?, ?, ?, ?)`,
		d.Name, d.URL, d.Checksum, d.Address, unix(d.CreatedAt))
	if err = mapErr(err); err != nil {
		return fmt.Errorf("create driver %q: %w", d.Name, err)
	}
	return nil
}

func scanDriver(row interface{ Scan(...any) error }) (Driver, error) {
	var d Driver
	var created int64
	if err := row.Scan(&d.Name, &d.URL, &d.Checksum, &d.Address, &created); err != nil {
		return Driver{}, mapErr(err)
	}
	d.CreatedAt = fromUnix(created)
	return d, nil
}

// Driver returns an installed driver.
func (s *Store) Driver(ctx context.Context, name string) (Driver, error) {
	d, err := scanDriver(s.db.QueryRowContext(ctx, `SELECT name, url, checksum, address, created_at FROM drivers WHERE name = ?`, name))
	if err != nil {
		return Driver{}, fmt.Errorf("driver %q: %w", name, err)
	}
	return d, nil
}

// ListDrivers returns the installed drivers by name.
func (s *Store) ListDrivers(ctx context.Context) ([]Driver, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, url, checksum, address, created_at FROM drivers ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list drivers: %w", err)
	}
	defer rows.Close()
	var out []Driver
	for rows.Next() {
		d, err := scanDriver(rows)
		if err != nil {
			return nil, fmt.Errorf("list drivers: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeleteDriver removes an installed driver; ErrConflict while a cluster
// uses it.
func (s *Store) DeleteDriver(ctx context.Context, name string) error {
	return s.tx(ctx, fmt.Sprintf("delete driver %q", name), func(tx *txn) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM cluster_provisioning WHERE driver = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%d clusters use it: %w", n, ErrConflict)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM drivers WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// Provisioning is a driver-provisioned cluster's state. Error, Config and
// Info are sealed by the caller; the store never sees them in the clear.
type Provisioning struct {
	ClusterID  string
	Driver     string
	Generation int64
	Op         string // requested operation; "" when none is pending
	Phase      string
	Message    string
	Error      []byte
	Config     []byte
	Info       []byte
	UpdatedAt  time.Time
}

// CreateProvisionedCluster inserts a cluster and its provisioning row in one
// transaction.
func (s *Store) CreateProvisionedCluster(ctx context.Context, c Cluster, p Provisioning) error {
	return s.tx(ctx, fmt.Sprintf("create cluster %q", c.Name), func(tx *txn) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO clusters (id, name, created_at) VALUES (?, ?, ?)`,
			c.ID, c.Name, unix(c.CreatedAt)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO cluster_provisioning
			(cluster_id, driver, generation, op, phase, message, error, config, info, updated_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, p.Driver, p.Op, p.Phase, p.Message, p.Error, p.Config, p.Info, unix(p.UpdatedAt)); err != nil {
			return fmt.Errorf("provisioning: %w", err)
		}
		return nil
	})
}

const provCols = `cluster_id, driver, generation, op, phase, message, error, config, info, updated_at`

func scanProvisioning(row interface{ Scan(...any) error }) (Provisioning, error) {
	var p Provisioning
	var updated int64
	if err := row.Scan(&p.ClusterID, &p.Driver, &p.Generation, &p.Op, &p.Phase, &p.Message,
		&p.Error, &p.Config, &p.Info, &updated); err != nil {
		return Provisioning{}, mapErr(err)
	}
	p.UpdatedAt = fromUnix(updated)
	return p, nil
}

// Provisioning returns a cluster's provisioning state; ErrNotFound for a
// cluster no driver provisioned.
func (s *Store) Provisioning(ctx context.Context, clusterID string) (Provisioning, error) {
	p, err := scanProvisioning(s.db.QueryRowContext(ctx, `SELECT `+provCols+` FROM cluster_provisioning WHERE cluster_id = ?`, clusterID))
	if err != nil {
		return Provisioning{}, fmt.Errorf("provisioning of cluster %q: %w", clusterID, err)
	}
	return p, nil
}

// ListProvisioning returns every provisioning row.
func (s *Store) ListProvisioning(ctx context.Context) ([]Provisioning, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+provCols+` FROM cluster_provisioning ORDER BY cluster_id`)
	if err != nil {
		return nil, fmt.Errorf("list provisioning: %w", err)
	}
	defer rows.Close()
	var out []Provisioning
	for rows.Next() {
		p, err := scanProvisioning(rows)
		if err != nil {
			return nil, fmt.Errorf("list provisioning: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// RequestProvisioning asks for an operation: it sets op, phase and message,
// clears the error, replaces the config when config is not nil, and bumps
// the generation, which it returns.
func (s *Store) RequestProvisioning(ctx context.Context, clusterID, op, phase, message string, config []byte, at time.Time) (int64, error) {
	q := `UPDATE cluster_provisioning SET generation = generation + 1, op = ?, phase = ?, message = ?, error = NULL, updated_at = ?`
	args := []any{op, phase, message, unix(at)}
	if config != nil {
		q += `, config = ?`
		args = append(args, config)
	}
	var gen int64
	err := s.db.QueryRowContext(ctx, q+` WHERE cluster_id = ? RETURNING generation`, append(args, clusterID)...).Scan(&gen)
	if err = mapErr(err); err != nil {
		return 0, fmt.Errorf("request %s of cluster %q: %w", op, clusterID, err)
	}
	return gen, nil
}

// SetProvisioningStatus records op, phase, message and the sealed error if
// the row's generation is still gen; it reports whether it was.
func (s *Store) SetProvisioningStatus(ctx context.Context, clusterID string, gen int64, op, phase, message string, sealedErr []byte, at time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE cluster_provisioning SET op = ?, phase = ?, message = ?, error = ?, updated_at = ?
		WHERE cluster_id = ? AND generation = ?`, op, phase, message, sealedErr, unix(at), clusterID, gen)
	if err != nil {
		return false, fmt.Errorf("set status of cluster %q: %w", clusterID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// SaveProvisioningInfo stores the driver's sealed ClusterInfo.
func (s *Store) SaveProvisioningInfo(ctx context.Context, clusterID string, sealedInfo []byte) error {
	res, err := s.db.ExecContext(ctx, `UPDATE cluster_provisioning SET info = ? WHERE cluster_id = ?`, sealedInfo, clusterID)
	if err != nil {
		return fmt.Errorf("save info of cluster %q: %w", clusterID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("save info of cluster %q: %w", clusterID, ErrNotFound)
	}
	return nil
}
