package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/tunnel"
)

// Agents gives the cluster agent's session of a cluster (package tunnel):
// the only one accounts are made and tokens minted through.
type Agents interface {
	ClusterAgent(clusterID string) (*tunnel.Session, bool)
}

// Options configure a Manager.
type Options struct {
	Agents Agents
	Logger *slog.Logger
	Now    func() time.Time
	// TokenTTL is the lifetime asked for each account token (default 1 h;
	// the apiserver's minimum is 10 min).
	TokenTTL time.Duration
	// MaxCached bounds the cached credentials (default 20,000); past it the
	// least recently used goes.
	MaxCached int
	// FillTimeout bounds making an account and minting its token (default
	// 15 s).
	FillTimeout time.Duration
	// Instance names this Drover installation on its accounts
	// (downstream.InstanceLabel); Sweep touches no other installation's.
	Instance string
}

// Request names the credential wanted: an account in a cluster, for a
// Drover user.
type Request struct {
	ClusterID string
	UserID    string
	Kind      string // KindOwn or KindAs
	Account   downstream.Account
	// Admin: the Drover user is a global admin (Check).
	Admin bool
}

// ErrNoClusterAgent: no credential is cached for the identity and no
// cluster agent is connected to prepare one.
var ErrNoClusterAgent = errors.New("no cluster agent connected to prepare a credential")

// Manager hands out account tokens, making accounts on first use.
type Manager struct {
	opts Options

	mu      sync.Mutex
	entries map[key]*entry
}

type key struct{ cluster, name string }

type entry struct {
	token    string
	expires  time.Time
	renewAt  time.Time
	lastUsed time.Time
	// filling is closed when a fill in flight ends; nil when none is.
	filling chan struct{}
	err     error // the last fill's error, for those who waited on it
	// failedAt is when the last fill failed: for failBackoff after it,
	// requests get that error without a new attempt, so a cluster that
	// cannot make accounts is not asked again on every request.
	failedAt time.Time
}

// failBackoff is how long a failed fill's error is reused.
const failBackoff = time.Second

// New returns a Manager.
func New(opts Options) *Manager {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.MaxCached <= 0 {
		opts.MaxCached = 20_000
	}
	if opts.FillTimeout <= 0 {
		opts.FillTimeout = 15 * time.Second
	}
	return &Manager{opts: opts, entries: map[key]*entry{}}
}

// Credential returns a bearer token of the request's account: a cached one
// while it is valid (refreshed in the background past half its life, when
// a cluster agent is connected), else a new one, making the account first
// if needed. An identity Check refuses gets ErrRefused.
func (m *Manager) Credential(ctx context.Context, req Request) (string, error) {
	if err := Check(req.Account, req.Admin); err != nil {
		return "", err
	}
	k := key{req.ClusterID, Name(req.Account)}
	for {
		now := m.opts.Now()
		m.mu.Lock()
		e := m.entries[k]
		if e == nil {
			e = &entry{}
			m.evictLocked()
			m.entries[k] = e
		}
		e.lastUsed = now
		valid := e.token != "" && now.Before(e.expires)
		if valid && (now.Before(e.renewAt) || e.filling != nil) {
			tok := e.token
			m.mu.Unlock()
			return tok, nil
		}
		if !valid && e.err != nil && now.Sub(e.failedAt) < failBackoff {
			err := e.err
			m.mu.Unlock()
			return "", err
		}
		if e.filling != nil { // someone else is filling: wait for it
			ch := e.filling
			m.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		sess, ok := m.opts.Agents.ClusterAgent(req.ClusterID)
		if !ok {
			var tok string
			if valid {
				tok = e.token
			}
			m.mu.Unlock()
			if tok != "" {
				return tok, nil // past half its life, but nobody can renew it now
			}
			return "", ErrNoClusterAgent
		}
		ch := make(chan struct{})
		e.filling = ch
		m.mu.Unlock()
		if valid {
			// Renew in the background; the current token serves meanwhile.
			tok := e.token
			go m.fill(k, e, ch, sess, req)
			return tok, nil
		}
		m.fill(k, e, ch, sess, req)
		m.mu.Lock()
		tok, err := e.token, e.err
		fresh := tok != "" && m.opts.Now().Before(e.expires)
		m.mu.Unlock()
		if !fresh {
			if err == nil {
				err = errors.New("no token")
			}
			return "", err
		}
		return tok, nil
	}
}

// fill makes the account and mints a token, then records the outcome in e
// and closes ch. It runs detached from any one request, bounded by
// FillTimeout.
func (m *Manager) fill(k key, e *entry, ch chan struct{}, sess *tunnel.Session, req Request) {
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.FillTimeout)
	defer cancel()
	tok, exp, err := m.mint(ctx, sess, req, k.name)
	m.mu.Lock()
	now := m.opts.Now()
	if err == nil {
		e.token, e.expires, e.renewAt = tok, exp, now.Add(exp.Sub(now)/2)
	} else {
		e.failedAt = now
	}
	e.err = err
	e.filling = nil
	m.mu.Unlock()
	close(ch)
	if err != nil {
		m.opts.Logger.Warn("prepare impersonation account", "cluster", k.cluster, "account", k.name, "user_id", req.UserID, "err", err)
	}
}

// mint ensures the account exists as it should and returns a new token.
func (m *Manager) mint(ctx context.Context, sess *tunnel.Session, req Request, name string) (string, time.Time, error) {
	cfg := sess.ControllerConfig()
	if cfg == nil {
		return "", time.Time{}, fmt.Errorf("session of cluster %s carries no controller credential", sess.ClusterID)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("controller client: %w", err)
	}
	if err := ensure(ctx, cs, name, req, m.opts.Instance); err != nil {
		return "", time.Time{}, err
	}
	return token(ctx, cs, name, m.opts.TokenTTL)
}

// evictLocked drops the least recently used entry when the cache is full.
func (m *Manager) evictLocked() {
	if len(m.entries) < m.opts.MaxCached {
		return
	}
	var oldest key
	var at time.Time
	for k, e := range m.entries {
		if e.filling == nil && (at.IsZero() || e.lastUsed.Before(at)) {
			oldest, at = k, e.lastUsed
		}
	}
	delete(m.entries, oldest)
}

// Forget drops every cached credential of a cluster (deleted, or its
// accounts swept).
func (m *Manager) Forget(clusterID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.entries {
		if k.cluster == clusterID {
			delete(m.entries, k)
		}
	}
}

// Invalidate drops the cached credential of a request's account: the
// cluster refused it (its account was deleted behind Drover's back), so the
// next request makes the account again.
func (m *Manager) Invalidate(req Request) {
	m.forgetAccount(req.ClusterID, Name(req.Account))
}

// forgetAccount drops one account's cached credential (swept).
func (m *Manager) forgetAccount(clusterID, name string) {
	m.mu.Lock()
	delete(m.entries, key{clusterID, name})
	m.mu.Unlock()
}
