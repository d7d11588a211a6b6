// Package proc runs the child processes of the test harnesses (etcd,
// kube-apiserver, slapd, Dex): each with a minimal environment, its own
// process group, its output appended to a log file, and SIGKILL if the test
// process dies; and it hands out free loopback ports for them.
//
// It owns those children's lifecycle; it must never pass the test
// process's environment to a child or leave a child running after Stop.
package proc
