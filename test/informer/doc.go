// Package informer is a client-go shared informer on the ConfigMaps of a
// namespace that counts the LIST requests it makes, for tests that check a
// watch through Drover survives a fault without the reflector listing
// again (test/realnodes) or lists again exactly when the apiserver says so
// (test/e2e, 410 Gone).
//
// It owns nothing of Drover's and must never be linked by a binary that
// ships; it is test support only.
package informer
