package authproxy

import (
	"net/http"
	"sync"
	"time"

	"github.com/drover-dev/drover/pkg/apierr"
)

// DefaultMaxRequestsPerUser bounds the requests one user may have open
// through the proxy at once (on this server), unless Options say
// otherwise. A stalled stream (a watch, a followed log, an exec whose
// client stops reading) holds up to a few MiB in the tunnel before the
// agent is paused (see docs/api.md), so without a bound one read-only
// user could hold gigabytes; with it, a user holds at most this many
// times that. kubectl needs a handful; a controller watching through
// Drover needs one per resource type it watches.
const DefaultMaxRequestsPerUser = 100

// userLimit counts each user's open requests. Its map holds users with at
// least one open request only.
type userLimit struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

func newUserLimit(max int) *userLimit {
	if max <= 0 {
		max = DefaultMaxRequestsPerUser
	}
	return &userLimit{max: max, open: map[string]int{}}
}

// acquire counts a request of user; ok is false when the user is at the
// limit. release must be called once the request ends.
func (l *userLimit) acquire(user string) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[user] >= l.max {
		return nil, false
	}
	l.open[user]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.open[user]--; l.open[user] <= 0 {
			delete(l.open, user)
		}
	}, true
}

// refuse answers a request over the limit: 429, as the apiserver answers
// when it has too many requests in flight, so clients back off and retry.
func (l *userLimit) refuse(w http.ResponseWriter) {
	apierr.TooManyRequests(w, time.Second,
		"too many requests open through Drover at once for this user (at most %d); close some watches, logs or exec sessions", l.max)
}
