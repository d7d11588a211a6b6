package replica

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/drover-dev/drover/pkg/checksum"
	"github.com/drover-dev/drover/pkg/pki"
	"github.com/drover-dev/drover/pkg/store"
)

// The service's identity, shared by every replica through the database
// (table service_identity), sealed with the secrets key, which every
// replica is given (--secrets-key-file, a mounted Secret): the key is the
// one secret an operator hands out; the CA and the session signing keys
// follow from it.
const (
	identityCheck   = "secrets-key-check"
	identityCA      = "ca"
	identityCASum   = "ca-checksum"
	identitySession = "session-keys"
)

// IdentityStore keeps the shared identity.
type IdentityStore interface {
	Identity(ctx context.Context, name string) ([]byte, error)
	PutIdentityIfAbsent(ctx context.Context, name string, value []byte, at time.Time) ([]byte, error)
	SwapIdentity(ctx context.Context, name string, old, value []byte, at time.Time) (bool, error)
}

// Sealer seals what the database keeps (package seal).
type Sealer interface {
	Seal(plain []byte, purpose string) ([]byte, error)
	Open(blob []byte, purpose string) ([]byte, error)
}

// CheckSecretsKey makes sure this replica's secrets key is the one every
// replica on the database has: the first to start stores a value sealed
// with its key, and every later one must be able to open it.
func CheckSecretsKey(ctx context.Context, st IdentityStore, s Sealer, now time.Time) error {
	sealed, err := s.Seal([]byte("drover"), identityCheck)
	if err != nil {
		return err
	}
	stored, err := st.PutIdentityIfAbsent(ctx, identityCheck, sealed, now)
	if err != nil {
		return err
	}
	if _, err := s.Open(stored, identityCheck); err != nil {
		return errors.New("this server's secrets key is not the one the database's other servers use: " +
			"give every server replica the same --secrets-key-file")
	}
	return nil
}

type caPair struct {
	Cert []byte `json:"cert"`
	Key  []byte `json:"key"`
}

// ShareCA makes the CA in dir (the server's tls directory) the service's:
// the database's when it has one (installed into an empty dir), else the
// dir's own (stored for the others), else a new one. Of replicas starting
// together, the first to store wins and the others install its CA. A dir
// holding another CA than the database's is an error: agents pin one.
func ShareCA(ctx context.Context, st IdentityStore, s Sealer, dir string, now time.Time) error {
	localCert, localKey, err := pki.ReadCA(dir)
	hasLocal := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read the CA in %s: %w", dir, err)
	}
	stored, err := st.Identity(ctx, identityCA)
	if errors.Is(err, store.ErrNotFound) {
		mine := caPair{Cert: localCert, Key: localKey}
		if !hasLocal {
			g, err := pki.Generate(nil, now)
			if err != nil {
				return err
			}
			mine = caPair{Cert: g.CACert, Key: g.CAKey}
		}
		plain, err := json.Marshal(mine)
		if err != nil {
			return err
		}
		sealed, err := s.Seal(plain, identityCA)
		if err != nil {
			return err
		}
		stored, err = st.PutIdentityIfAbsent(ctx, identityCA, sealed, now)
		if err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	plain, err := s.Open(stored, identityCA)
	if err != nil {
		return fmt.Errorf("open the service's CA from the database: %w", err)
	}
	var ca caPair
	if err := json.Unmarshal(plain, &ca); err != nil {
		return fmt.Errorf("the service's CA in the database: %w", err)
	}
	if hasLocal {
		if !bytes.Equal(localCert, ca.Cert) {
			return fmt.Errorf("%s holds another CA than the other server replicas on this database: "+
				"agents pin one CA; remove ca.crt, ca.key, tls.crt and tls.key there to take the shared one", dir)
		}
		return nil
	}
	return pki.InstallCA(dir, ca.Cert, ca.Key)
}

// CAStore is what CheckCA needs of the database.
type CAStore interface {
	IdentityStore
	LiveReplicas(ctx context.Context, window time.Duration) ([]store.Replica, error)
}

// CheckCA makes sure this replica serves the CA the service serves,
// whether it is the shared one (ShareCA) or one the operator gave every
// replica (--ca-cert with --tls-cert): agents pin its checksum and the
// replicas verify one another against it, so a replica of another CA
// would split the service without a word. The first replica records the
// checksum of its CA (caPEM, as served at /cacerts); a later one of
// another CA is refused while a replica is live (beat within window), and
// makes its CA the service's when none is (the operator replaced the CA
// of every replica). Call it before this replica joins.
func CheckCA(ctx context.Context, st CAStore, caPEM []byte, window time.Duration, now time.Time, logger *slog.Logger) error {
	sum := []byte(checksum.Of(caPEM))
	stored, err := st.PutIdentityIfAbsent(ctx, identityCASum, sum, now)
	if err != nil {
		return err
	}
	if bytes.Equal(stored, sum) {
		return nil
	}
	live, err := st.LiveReplicas(ctx, window)
	if err != nil {
		return err
	}
	if len(live) == 0 {
		if ok, err := st.SwapIdentity(ctx, identityCASum, stored, sum, now); err != nil || !ok {
			return errors.Join(errors.New("record the service's new CA: another replica changed it meanwhile; start again"), err)
		}
		logger.Warn("this server's CA is now the service's: no other server replica was running; agents pinned to the old CA "+
			"will not connect", "ca_checksum", string(sum), "old_ca_checksum", string(stored))
		return nil
	}
	return fmt.Errorf("this server serves another CA (checksum %s) than the %d server replicas running on this database (%s): "+
		"agents pin one CA; give every replica the same --ca-cert, --tls-cert and --tls-key (or none: the shared CA), "+
		"or stop them all to replace the CA", sum, len(live), stored)
}

// SessionKeys keeps the session signing keys in the database, sealed
// (session.Shared).
type SessionKeys struct {
	Ctx    context.Context
	Store  IdentityStore
	Sealer Sealer
	Now    func() time.Time
}

// sessionKeysTimeout bounds each read or write of the key set: a read for
// an unknown kid is the one the request that named it waits for.
const sessionKeysTimeout = 5 * time.Second

// Load returns the key set, nil when none is stored.
func (k SessionKeys) Load() ([]byte, error) {
	ctx, cancel := context.WithTimeout(k.Ctx, sessionKeysTimeout)
	defer cancel()
	sealed, err := k.Store.Identity(ctx, identitySession)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return k.Sealer.Open(sealed, identitySession)
}

// Swap stores next if the stored set is still prev (nil: none).
func (k SessionKeys) Swap(prev, next []byte) (bool, error) {
	ctx, cancel := context.WithTimeout(k.Ctx, sessionKeysTimeout)
	defer cancel()
	sealed, err := k.Sealer.Seal(next, identitySession)
	if err != nil {
		return false, err
	}
	if prev == nil {
		stored, err := k.Store.PutIdentityIfAbsent(ctx, identitySession, sealed, k.Now())
		return err == nil && bytes.Equal(stored, sealed), err
	}
	// The stored blob is compared, not the plaintext: seal it is not
	// deterministic, so find the blob that holds prev.
	cur, err := k.Store.Identity(ctx, identitySession)
	if err != nil {
		return false, err
	}
	plain, err := k.Sealer.Open(cur, identitySession)
	if err != nil || !bytes.Equal(plain, prev) {
		return false, err
	}
	return k.Store.SwapIdentity(ctx, identitySession, cur, sealed, k.Now())
}
