// Package cmdlinetest owns the helpers the binaries' tests share to prove
// that every flag they register reaches their Options, in each form users
// pass it (--flag=value, --flag value, -flag value).
//
// It is for tests only: it must never be imported by a binary or by
// non-test code.
package cmdlinetest
