package fleet

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/drover-dev/drover/test/harness"
)

// dumpGoroutines makes the server print every goroutine's stack and exit
// (Go's SIGQUIT), then counts the goroutines of its log by the function
// that started them.
func dumpGoroutines(p *harness.Process) (string, error) {
	if err := p.Signal(syscall.SIGQUIT); err != nil {
		return "", fmt.Errorf("SIGQUIT the server: %w", err)
	}
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		p.Kill()
	}
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return "", err
	}
	return byCreator(string(b)), nil
}

// byCreator counts "created by F" lines of a goroutine dump by F, and
// formats the twenty most frequent as "F=n".
func byCreator(dump string) string {
	counts := map[string]int{}
	for _, line := range strings.Split(dump, "\n") {
		f, ok := strings.CutPrefix(strings.TrimSpace(line), "created by ")
		if !ok {
			continue
		}
		f, _, _ = strings.Cut(f, " in goroutine")
		counts[f]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var parts []string
	for i, k := range keys {
		if i == 20 {
			break
		}
		parts = append(parts, fmt.Sprintf("%s=%d", k, counts[k]))
	}
	return strings.Join(parts, " ")
}
