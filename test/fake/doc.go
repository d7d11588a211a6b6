// Package fake holds the small test doubles several packages' tests need:
// a settable clock and a log buffer safe for concurrent writers. It owns
// nothing else and must never be imported by non-test code outside test/.
package fake
