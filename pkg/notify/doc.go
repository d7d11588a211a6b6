// Package notify owns the "something changed" signal that live views
// (the console's server-sent events, package api) wait on: a broadcast
// without payload, so a waiter re-reads what it shows and sends it only if
// it differs. Notify never blocks and allocates one channel per change, not
// per waiter; a burst of changes wakes each waiter at least once.
//
// It must never carry data (what a waiter may see is decided when it
// re-reads, by the same owners as any other read), and never hold a
// waiter: a waiter that stops listening costs nothing.
package notify
