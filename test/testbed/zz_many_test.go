package testbed

import (
	"sync"
	"testing"
	"time"
	"os"
	"strings"
	"path/filepath"
)

func TestZZMany(t *testing.T) {
	const n = 8
	var wg sync.WaitGroup
	cs := make([]*Cluster, n)
	errs := make([]error, n)
	s := time.Now()
	for i := range n {
		wg.Go(func() { cs[i], errs[i] = Start(t.Context(), Options{Dir: filepath.Join("/tmp/zzmany", string(rune('a'+i)))}) })
	}
	wg.Wait()
	t.Logf("%d clusters in %v", n, time.Since(s))
	for i, c := range cs {
		if errs[i] != nil {
			t.Error(errs[i])
		}
		if c != nil {
			defer c.Stop()
		}
	}
	b, _ := os.ReadFile(filepath.Join(cs[0].Dir, "kube-apiserver.log"))
	var errLines []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "E") || strings.HasPrefix(l, "W") {
			errLines = append(errLines, l)
		}
	}
	t.Logf("apiserver W/E lines:\n%s", strings.Join(errLines, "\n"))
	b, _ = os.ReadFile(filepath.Join(cs[0].Dir, "etcd.log"))
	t.Logf("etcd log:\n%s", b)
	out, _ := os.ReadFile("/proc/meminfo")
	t.Logf("%s", strings.Join(strings.Split(string(out), "\n")[:3], "\n"))
	s = time.Now()
	for _, c := range cs { c.Stop() }
	t.Logf("stop all: %v", time.Since(s))
}
