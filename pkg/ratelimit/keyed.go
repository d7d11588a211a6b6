package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys bounds the buckets a Keyed keeps unless Options say
// otherwise.
const DefaultMaxKeys = 100000

// Options configure a Keyed limiter.
type Options struct {
	// Burst attempts may be spent at once; one is regained every
	// Per/Burst, so Burst attempts per Per in the long run.
	Burst int
	Per   time.Duration
	// MaxKeys bounds the buckets kept; 0: DefaultMaxKeys.
	MaxKeys int
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Keyed is a set of token buckets keyed by string. It is safe for
// concurrent use.
type Keyed struct {
	limit   rate.Limit
	burst   int
	every   time.Duration // time to regain one attempt
	maxKeys int
	now     func() time.Time

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	lastSweep time.Time
}

// New returns a Keyed limiter. Burst and Per must be positive.
func New(opts Options) *Keyed {
	if opts.Burst <= 0 || opts.Per <= 0 {
		panic("ratelimit: Burst and Per must be positive")
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	every := opts.Per / time.Duration(opts.Burst)
	return &Keyed{
		limit: rate.Every(every), burst: opts.Burst, every: every,
		maxKeys: opts.MaxKeys, now: opts.Now, buckets: map[string]*rate.Limiter{},
	}
}

// Allow spends one attempt of key. When none is left it returns false and
// how long until one is.
func (k *Keyed) Allow(key string) (bool, time.Duration) {
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	b, ok := k.buckets[key]
	if !ok {
		if len(k.buckets) >= k.maxKeys && !k.sweep(now) {
			// Full of buckets in use: refuse newcomers rather than evict
			// a bucket someone is being limited by.
			return false, k.every
		}
		b = rate.NewLimiter(k.limit, k.burst)
		k.buckets[key] = b
	}
	if b.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - b.TokensAt(now)
	return false, time.Duration(missing * float64(k.every))
}

// sweep drops the buckets that have refilled completely and says whether
// there is room for a new one. It walks the buckets at most once per
// regained attempt, so a stream of new keys against a full set does not
// make every call walk them all.
func (k *Keyed) sweep(now time.Time) bool {
	if d := now.Sub(k.lastSweep); !k.lastSweep.IsZero() && d >= 0 && d < k.every {
		return false
	}
	k.lastSweep = now
	for key, b := range k.buckets {
		if b.TokensAt(now) >= float64(k.burst) {
			delete(k.buckets, key)
		}
	}
	return len(k.buckets) < k.maxKeys
}

// Len is the number of buckets kept.
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}
