// Package ratelimit owns keyed rate limiting: in one process's memory, a
// token bucket (golang.org/x/time/rate) per key, such as a username or a
// client address, as the login endpoints use.
//
// The keys come from whoever sends the requests, so the set of buckets is
// bounded: buckets that have refilled completely are dropped (forgetting
// one changes nothing: a new bucket starts full), and when the bound is
// reached with every bucket still in use, new keys are refused until some
// refill. It must never evict a bucket that is still limiting someone, nor
// grow without bound, nor log the keys (usernames may be passwords typed in
// the wrong field).
//
// Shared is the same Allow for server replicas on one database: the limit
// is counted there, once for all of them (GCRA in SQL, package store), and
// keys are stored as digests only.
package ratelimit
