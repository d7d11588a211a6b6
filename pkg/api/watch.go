package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/authn"
	"github.com/drover-dev/drover/pkg/request"
	"github.com/drover-dev/drover/pkg/store"
)

// Changes is the signal live views wait on (*notify.Signal): the server
// fires it when a tunnel opens or closes and when a cluster's status is
// written; the API fires it after every change made through it.
type Changes interface {
	Notify()
	Wait() <-chan struct{}
}

const (
	// watchResync re-reads a live view without a signal: what no signal
	// covers (a change on another replica, provisioning progress) shows
	// within it.
	watchResync = 5 * time.Second
	// watchCoalesce groups a burst of changes into one read, and so
	// bounds how often anyone's changes can make a view re-read (four
	// times a second).
	watchCoalesce = 250 * time.Millisecond
	// watchPing keeps idle streams open through proxies.
	watchPing = 30 * time.Second
	// maxWatchesPerUser bounds a user's open live views (browser tabs).
	maxWatchesPerUser = 16
)

// watchLimit counts open live views per user; a user's entry goes with its
// last view, so the map is bounded by the views open.
type watchLimit struct {
	mu     sync.Mutex
	byUser map[string]int
}

func (l *watchLimit) acquire(userID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byUser[userID] >= maxWatchesPerUser {
		return false
	}
	if l.byUser == nil {
		l.byUser = map[string]int{}
	}
	l.byUser[userID]++
	return true
}

func (l *watchLimit) release(userID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byUser[userID]--; l.byUser[userID] <= 0 {
		delete(l.byUser, userID)
	}
}

// notifyChanges fires the change signal after every state-changing call
// that succeeded, so live views never miss a change made through the API
// (one owner, rather than a call in each handler).
func (a *API) notifyChanges(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := request.NewRecorder(w)
		next.ServeHTTP(rec, r)
		// A refused call changed nothing: it must not make every open
		// view of every user read the store again.
		if a.opts.Changes != nil && r.Method != http.MethodGet && r.Method != http.MethodHead && rec.Status(r) < 400 {
			a.opts.Changes.Notify()
		}
	})
}

// watchClusters is GET /v3/watch/clusters: server-sent events, each
// "clusters" event the caller's whole list as GET /v3/clusters answers it,
// sent at once and again whenever it changes. It ends when the client goes,
// when the caller's credential is revoked or expires, or when its user is
// disabled.
func (a *API) watchClusters(w http.ResponseWriter, r *http.Request) {
	id := identity(r.Context())
	if !a.watches.acquire(id.UserID) {
		apierr.TooManyRequests(w, 10*time.Second, "too many live views open (at most %d per user); close some tabs", maxWatchesPerUser)
		return
	}
	defer a.watches.release(id.UserID)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	ctx := r.Context()
	resync := time.NewTicker(watchResync)
	defer resync.Stop()
	ping := time.NewTicker(watchPing)
	defer ping.Stop()
	var last []byte
	for {
		wake := a.changes()
		now, err := a.credentialStands(ctx, id)
		if err != nil {
			a.opts.Logger.Info("live view ended", "user", id.Username, "token_id", id.TokenID, "why", err)
			fmt.Fprintf(w, "event: end\ndata: {\"reason\": \"Unauthorized\"}\n\n")
			rc.Flush()
			return
		}
		// Who the caller is now (a global admin binding removed, a group
		// gone), not who they were when the view opened.
		b, err := a.clusterList(authn.WithIdentity(ctx, now))
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			a.opts.Logger.Warn("live view: read clusters", "err", err)
		case string(b) != string(last):
			if _, err := fmt.Fprintf(w, "event: clusters\ndata: %s\n\n", b); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			last = b
		}
		select {
		case <-ctx.Done():
			return
		case <-resync.C:
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil || rc.Flush() != nil {
				return
			}
			continue
		case <-wake:
			select {
			case <-ctx.Done():
				return
			case <-time.After(watchCoalesce):
			}
		}
	}
}

// changes is the channel of the next change (nil: none but the resync).
func (a *API) changes() <-chan struct{} {
	if a.opts.Changes == nil {
		return nil
	}
	return a.opts.Changes.Wait()
}

// clusterList is the caller's clusters as GET /v3/clusters answers them.
func (a *API) clusterList(ctx context.Context) ([]byte, error) {
	out, err := a.callerClusters(ctx)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"items": out})
}

// credentialStands says whether the credential a live view opened with is
// still good: its token not revoked or expired, its user not disabled. It
// returns the caller as they stand now: id with the user's current role
// and groups (id itself when the store cannot say).
func (a *API) credentialStands(ctx context.Context, id authn.Identity) (authn.Identity, error) {
	if !id.ExpiresAt.IsZero() && !a.opts.Now().Before(id.ExpiresAt) {
		return id, errors.New("credential expired")
	}
	tok, err := a.opts.Store.Token(ctx, id.TokenID)
	if errors.Is(err, store.ErrNotFound) {
		return id, errors.New("credential revoked")
	}
	if err != nil {
		return id, nil // the store is down: keep the view, the next read retries
	}
	u, err := a.opts.Store.UserByID(ctx, tok.UserID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return id, errors.New("user deleted")
	case err == nil && u.Disabled:
		return id, errors.New("user disabled")
	case err == nil:
		id.Admin, id.Groups = u.Admin, authn.Groups(u)
	}
	return id, nil
}

// watchRoutes registers the live views.
func (a *API) watchRoutes(r *access.Routes) {
	r.Handle(http.MethodGet, "/v3/watch/clusters", access.Unscoped, a.watchClusters)
	r.Router().Use(a.notifyChanges)
}
