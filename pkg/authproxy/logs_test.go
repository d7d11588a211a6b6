package authproxy_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/agentapi"
)

const logPath = "/api/v1/namespaces/w/pods/p/log"

// containerLog is the backend's container log: line i was written at
// base + i ms (all within a few seconds, so that resuming with whole-second
// sinceTime asks for lines the client already has).
type containerLog struct {
	mu    sync.Mutex
	base  time.Time
	n     int
	asked []string // sinceTime of every request ("" for none)
	more  chan struct{}
}

func (c *containerLog) add(k int) {
	c.mu.Lock()
	c.n += k
	close(c.more)
	c.more = make(chan struct{})
	c.mu.Unlock()
}

func (c *containerLog) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var since time.Time
	if s := q.Get("sinceTime"); s != "" {
		since, _ = time.Parse(time.RFC3339, s)
	}
	c.mu.Lock()
	c.asked = append(c.asked, q.Get("sinceTime"))
	c.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	sent := 0
	for {
		c.mu.Lock()
		n, more := c.n, c.more
		c.mu.Unlock()
		for ; sent < n; sent++ {
			ts := c.base.Add(time.Duration(sent) * time.Millisecond)
			if ts.Before(since) {
				continue
			}
			if q.Get("timestamps") == "true" {
				fmt.Fprintf(w, "%s ", ts.Format(time.RFC3339Nano))
			}
			fmt.Fprintf(w, "line-%d\n", sent)
		}
		http.NewResponseController(w).Flush()
		select {
		case <-more:
		case <-r.Context().Done():
			return
		}
	}
}

// TestLogsFollowSurvivesFailover: a followed log whose tunnel fails goes
// on through the node agent with the lines after the last one delivered:
// none twice, none lost, timestamps only if the client asked.
func TestLogsFollowSurvivesFailover(t *testing.T) {
	for _, timestamps := range []bool{false, true} {
		t.Run(fmt.Sprint("timestamps=", timestamps), func(t *testing.T) {
			s, _, agent, tok := watchCluster(t)
			cl := &containerLog{base: time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC), more: make(chan struct{})}
			s.backend.handle(logPath, cl.serve)
			cl.add(3)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			url := s.proxy.URL + "/k8s/clusters/c-alpha" + logPath + "?follow=true"
			if timestamps {
				url += "&timestamps=true"
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := (&http.Client{Transport: s.client.Transport}).Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("logs -f: %v %v", resp, err)
			}
			defer resp.Body.Close()
			lines := make(chan string, 64)
			go func() {
				sc := bufio.NewScanner(resp.Body)
				for sc.Scan() {
					lines <- sc.Text()
				}
				close(lines)
			}()
			var got []string
			read := func(k int) {
				for range k {
					select {
					case l, ok := <-lines:
						if !ok {
							t.Fatalf("the log stream ended; got %q", got)
						}
						got = append(got, l)
					case <-time.After(4 * waitTimeout):
						t.Fatalf("no line; got %q", got)
					}
				}
			}
			read(3)
			agent(agentapi.KindCluster)()
			waitFor(t, "the cluster agent's session to end", func() bool { return s.tun.Status("c-alpha").Sessions == 1 })
			cl.add(3)
			read(3)
			var want []string
			for i := range 6 {
				line := fmt.Sprintf("line-%d", i)
				if timestamps {
					line = cl.base.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano) + " " + line
				}
				want = append(want, line)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			cl.mu.Lock()
			asked := cl.asked
			cl.mu.Unlock()
			if diff := cmp.Diff([]string{"", "2026-12-06T20:00:00Z"}, asked); diff != "" {
				t.Errorf("sinceTime of the requests (-want +got):\n%s", diff)
			}
		})
	}
}
