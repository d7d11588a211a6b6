package authproxy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/pkg/agentapi"
	"github.com/drover-dev/drover/pkg/authproxy"
)

// watchPath is the backend's watch: ConfigMaps of namespace w, JSON events
// from an event log whose resourceVersions are 1, 2, 3...
const watchPath = "/api/v1/namespaces/w/configmaps"

// watchLog is the backend's history of ConfigMap events, as etcd's.
type watchLog struct {
	mu        sync.Mutex
	n         int
	compacted int    // a watch from below this gets 410 Gone
	asked     []int  // the resourceVersion of every watch request
	streamed  []bool // whether each asked for initial events (sendInitialEvents)
	more      chan struct{}
	// bookmark, when set, holds a streaming list's bookmark that ends its
	// initial events until it is closed.
	bookmark chan struct{}
}

func newWatchLog() *watchLog { return &watchLog{more: make(chan struct{})} }

// add appends k events.
func (l *watchLog) add(k int) {
	l.mu.Lock()
	l.n += k
	close(l.more)
	l.more = make(chan struct{})
	l.mu.Unlock()
}

func (l *watchLog) requests() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.asked...)
}

func watchEvent(typ string, rv int) string {
	return fmt.Sprintf(`{"type":%q,"object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm-%d","namespace":"w","resourceVersion":"%d"}}}`+"\n", typ, rv, rv)
}

// serve streams the events after the request's resourceVersion, then new
// ones as they come, until the request ends.
func (l *watchLog) serve(w http.ResponseWriter, r *http.Request) {
	from, _ := strconv.Atoi(r.URL.Query().Get("resourceVersion"))
	initial := r.URL.Query().Get("sendInitialEvents") == "true"
	l.mu.Lock()
	l.asked = append(l.asked, from)
	l.streamed = append(l.streamed, initial)
	compacted, bookmark := l.compacted, l.bookmark
	l.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	flush := func() { http.NewResponseController(w).Flush() }
	if from < compacted {
		fmt.Fprintf(w, `{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: %d (%d)","reason":"Expired","code":410}}`+"\n", from, compacted)
		return
	}
	sent := from
	if initial {
		// A streaming list: every object as ADDED (here, the whole log),
		// then the bookmark that ends the initial events.
		l.mu.Lock()
		n := l.n
		l.mu.Unlock()
		for sent = 0; sent < n; sent++ {
			fmt.Fprint(w, watchEvent("ADDED", sent+1))
		}
		flush()
		if bookmark != nil {
			select {
			case <-bookmark:
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprintf(w, `{"type":"BOOKMARK","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"%d","annotations":{"k8s.io/initial-events-end":"true"}}}}`+"\n", n)
		flush()
	}
	for {
		l.mu.Lock()
		n, more := l.n, l.more
		l.mu.Unlock()
		for ; sent < n; sent++ {
			fmt.Fprint(w, watchEvent("ADDED", sent+1))
		}
		flush()
		select {
		case <-more:
		case <-r.Context().Done():
			return
		}
	}
}

// watchClient reads a watch through the proxy line by line.
type watchClient struct {
	events chan string
	ended  chan error // nil: the response ended cleanly
	cancel func()     // ends the request
}

func (s *sandwich) watch(t *testing.T, bearer, cluster, rv string) *watchClient {
	t.Helper()
	return s.watchQuery(t, bearer, cluster, "resourceVersion="+rv)
}

// watchQuery is watch with the query of the client's choosing.
func (s *sandwich) watchQuery(t *testing.T, bearer, cluster, query string) *watchClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet,
		s.proxy.URL+"/k8s/clusters/"+cluster+watchPath+"?watch=1&"+query, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := (&http.Client{Transport: s.client.Transport}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("watch: HTTP %d", resp.StatusCode)
	}
	c := &watchClient{events: make(chan string, 1024), ended: make(chan error, 1), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			c.events <- sc.Text()
		}
		c.ended <- sc.Err()
	}()
	return c
}

// next returns the next event's type and resourceVersion (or Status code
// for an ERROR event).
func (c *watchClient) next(t *testing.T) (string, string) {
	t.Helper()
	var line string
	select {
	case line = <-c.events:
	case err := <-c.ended:
		// The reader sends every line before it says the response ended.
		select {
		case line = <-c.events:
		default:
			t.Fatalf("the watch ended (%v) while an event was expected", err)
		}
		c.ended <- err
	case <-time.After(4 * waitTimeout):
		t.Fatal("no event")
	}
	var ev struct {
		Type   string
		Object struct {
			Code     int
			Metadata struct{ ResourceVersion string }
		}
	}
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		t.Fatalf("event %q: %v", line, err)
	}
	if ev.Type == "ERROR" {
		return ev.Type, strconv.Itoa(ev.Object.Code)
	}
	return ev.Type, ev.Object.Metadata.ResourceVersion
}

// watchCluster is a cluster served by a cluster agent and a node agent
// whose backend serves the watch log.
func watchCluster(t *testing.T, opts ...func(*authproxy.Options)) (*sandwich, *watchLog, func(kind string) func(), string) {
	s := newSandwich(t, opts...)
	log := newWatchLog()
	s.backend.handle(watchPath, log.serve)
	reg := s.addCluster("c-alpha")
	agents := map[string]func(){}
	for _, kind := range []string{agentapi.KindCluster, agentapi.KindNode} {
		p := agentapi.AgentParams{Protocol: agentapi.Protocol, Kind: kind, Endpoint: s.backend.endpoint(), CACert: s.backend.caPEM()}
		if kind == agentapi.KindCluster {
			p.Token = "sa-watch"
		} else {
			p.Node = "n1"
		}
		agents[kind] = s.startAgent(reg, p).Stop
		// The cluster agent first: a node agent must match its endpoint.
		want := len(agents)
		waitFor(t, kind+" agent", func() bool { return s.tun.Status("c-alpha").Sessions == want })
	}
	ada := s.addUser("ada", true)
	tok, _ := s.mintToken(ada.ID, "", time.Now().Add(time.Hour))
	return s, log, func(kind string) func() { return agents[kind] }, tok
}

// TestWatchSurvivesFailover: the cluster agent's tunnel dies under an open
// watch; the node agent carries it on from the last event delivered: every
// event once, in order, no error, the response still open; the backend saw
// the watch again from exactly that resourceVersion.
func TestWatchSurvivesFailover(t *testing.T) {
	s, log, agent, tok := watchCluster(t)
	log.add(3)
	w := s.watch(t, tok, "c-alpha", "1")
	var got []string
	for range 2 {
		_, rv := w.next(t)
		got = append(got, rv)
	}
	agent(agentapi.KindCluster)() // the cluster agent's tunnel goes
	waitFor(t, "the cluster agent's session to end", func() bool { return s.tun.Status("c-alpha").Sessions == 1 })
	log.add(3)
	for range 3 {
		_, rv := w.next(t)
		got = append(got, rv)
	}
	if diff := cmp.Diff([]string{"2", "3", "4", "5", "6"}, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1, 3}, log.requests()); diff != "" {
		t.Errorf("resourceVersions the backend was asked to watch from (-want +got):\n%s", diff)
	}
	select {
	case err := <-w.ended:
		t.Errorf("the watch ended: %v", err)
	default:
	}
	if !strings.Contains(s.logs.String(), "watch resumed") {
		t.Error("no log line says the watch was resumed")
	}
}

// TestWatchResumeGone: compacted past the last delivered event, the
// resumed watch's 410 reaches the client as the apiserver's ERROR event,
// and the response ends cleanly.
func TestWatchResumeGone(t *testing.T) {
	s, log, agent, tok := watchCluster(t)
	log.add(2)
	w := s.watch(t, tok, "c-alpha", "1")
	if _, rv := w.next(t); rv != "2" {
		t.Fatalf("first event rv %s", rv)
	}
	log.mu.Lock()
	log.compacted = 5
	log.mu.Unlock()
	agent(agentapi.KindCluster)()
	if typ, code := w.next(t); typ != "ERROR" || code != "410" {
		t.Errorf("after compaction: %s %s, want ERROR 410", typ, code)
	}
	if err := <-w.ended; err != nil {
		t.Errorf("the response did not end cleanly: %v", err)
	}
}

// TestWatchUnreachable: with no agent left, the watch waits its resume
// window, then ends with an ERROR event (503) and a clean end of the
// response, never a torn stream.
func TestWatchUnreachable(t *testing.T) {
	s, log, agent, tok := watchCluster(t, func(o *authproxy.Options) { o.WatchResumeWindow = time.Second })
	log.add(2)
	w := s.watch(t, tok, "c-alpha", "1")
	w.next(t)
	agent(agentapi.KindNode)()
	agent(agentapi.KindCluster)()
	if typ, code := w.next(t); typ != "ERROR" || code != "503" {
		t.Errorf("with no agent: %s %s, want ERROR 503", typ, code)
	}
	if err := <-w.ended; err != nil {
		t.Errorf("the response did not end cleanly: %v", err)
	}
}

// TestWatchFromNowNotResumed: a watch without a resourceVersion cannot be
// resumed without repeating or losing objects: it ends with an ERROR event.
func TestWatchFromNowNotResumed(t *testing.T) {
	s, log, agent, tok := watchCluster(t)
	log.add(1)
	w := s.watch(t, tok, "c-alpha", "")
	w.next(t)
	agent(agentapi.KindCluster)()
	if typ, code := w.next(t); typ != "ERROR" || code != "503" {
		t.Errorf("a watch from now after a failure: %s %s, want ERROR 503\n%s", typ, code, s.logs.String())
	}
	if err := <-w.ended; err != nil {
		t.Errorf("the response did not end cleanly: %v", err)
	}
	if diff := cmp.Diff([]int{0}, log.requests()); diff != "" {
		t.Errorf("watch requests (-want +got):\n%s", diff)
	}
}

// TestWatchRevoked: a revoked token ends its open watch with an ERROR event
// whose Status says why (kubectl prints it), and a clean end of the
// response, not a reset stream.
func TestWatchRevoked(t *testing.T) {
	var streams *authproxy.Streams
	s, log, _, tok := watchCluster(t, func(o *authproxy.Options) {
		streams = authproxy.NewStreams(nil, time.Hour, nil, o.Logger)
		o.Streams = streams
	})
	log.add(1)
	w := s.watch(t, tok, "c-alpha", "0")
	w.next(t)
	id, _, _ := strings.Cut(tok, ":")
	if n := streams.Revoke(id); n != 1 {
		t.Fatalf("revoked %d streams, want 1", n)
	}
	if typ, code := w.next(t); typ != "ERROR" || code != "401" {
		t.Errorf("after revocation: %s %s, want ERROR 401", typ, code)
	}
	if err := <-w.ended; err != nil {
		t.Errorf("the response did not end cleanly: %v", err)
	}
}

// TestWatchRevokedWhileResuming: a watch waiting for an agent to carry it
// again whose token is revoked ends with the ERROR event that says so (a
// red-team find: this path used to panic and tear the stream).
func TestWatchRevokedWhileResuming(t *testing.T) {
	var streams *authproxy.Streams
	s, log, agent, tok := watchCluster(t, func(o *authproxy.Options) {
		streams = authproxy.NewStreams(nil, time.Hour, nil, o.Logger)
		o.Streams = streams
	})
	log.add(2)
	w := s.watch(t, tok, "c-alpha", "1")
	w.next(t)
	agent(agentapi.KindNode)()
	agent(agentapi.KindCluster)()
	waitFor(t, "the resume loop", func() bool { return strings.Contains(s.logs.String(), "watch stream broke") })
	id, _, _ := strings.Cut(tok, ":")
	streams.Revoke(id)
	if typ, code := w.next(t); typ != "ERROR" || code != "401" {
		t.Errorf("revoked while resuming: %s %s, want ERROR 401", typ, code)
	}
	if err := <-w.ended; err != nil {
		t.Errorf("the response did not end cleanly: %v", err)
	}
	if strings.Contains(s.logs.String(), "panic") {
		t.Errorf("the server logged a panic:\n%s", s.logs.String())
	}
}

// streamingList is the query of client-go's WatchList (a streaming list).
const streamingList = "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"

// TestWatchStreamingListResumes: a streaming list whose initial events have
// ended (the bookmark said so) resumes after a failover as a plain watch
// from that bookmark: no object listed again, none missed.
func TestWatchStreamingListResumes(t *testing.T) {
	s, log, agent, tok := watchCluster(t)
	log.add(3)
	w := s.watchQuery(t, tok, "c-alpha", streamingList)
	var got []string
	for range 4 {
		typ, rv := w.next(t)
		got = append(got, typ+" "+rv)
	}
	agent(agentapi.KindCluster)()
	waitFor(t, "the cluster agent's session to end", func() bool { return s.tun.Status("c-alpha").Sessions == 1 })
	log.add(2)
	for range 2 {
		typ, rv := w.next(t)
		got = append(got, typ+" "+rv)
	}
	want := []string{"ADDED 1", "ADDED 2", "ADDED 3", "BOOKMARK 3", "ADDED 4", "ADDED 5"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if diff := cmp.Diff([]int{0, 3}, log.asked); diff != "" {
		t.Errorf("resourceVersions asked (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]bool{true, false}, log.streamed); diff != "" {
		t.Errorf("asked for initial events (-want +got):\n%s", diff)
	}
}

// TestWatchStreamingListNotResumedEarly: a streaming list whose tunnel
// fails before its initial events ended cannot resume without listing
// again: it ends with an ERROR event, and the backend is not asked again.
func TestWatchStreamingListNotResumedEarly(t *testing.T) {
	s, log, agent, tok := watchCluster(t)
	log.add(2)
	hold := make(chan struct{})
	defer close(hold)
	log.mu.Lock()
	log.bookmark = hold
	log.mu.Unlock()
	w := s.watchQuery(t, tok, "c-alpha", streamingList)
	w.next(t)
	w.next(t)
	agent(agentapi.KindCluster)()
	if typ, code := w.next(t); typ != "ERROR" || code != "503" {
		t.Errorf("a streaming list broken during its initial events: %s %s, want ERROR 503", typ, code)
	}
	if err := <-w.ended; err != nil {
		t.Errorf("the response did not end cleanly: %v", err)
	}
	if diff := cmp.Diff([]int{0}, log.requests()); diff != "" {
		t.Errorf("watch requests (-want +got):\n%s", diff)
	}
}

// TestUserRequestLimit: a user with as many requests open as the limit
// gets 429 for one more, with Retry-After, and nothing reaches the
// cluster; another user is not affected; once one ends, the user may
// open another.
func TestUserRequestLimit(t *testing.T) {
	s, log, _, tok := watchCluster(t, func(o *authproxy.Options) { o.MaxRequestsPerUser = 2 })
	log.add(1)
	w1 := s.watch(t, tok, "c-alpha", "0")
	w1.next(t)
	w2 := s.watch(t, tok, "c-alpha", "0")
	w2.next(t)
	before := s.backend.count()
	get := func(bearer string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.proxy.URL+"/k8s/clusters/c-alpha/api/v1/namespaces", nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := get(tok); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a third request: HTTP %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if n := s.backend.count(); n != before {
		t.Errorf("the refused request reached the cluster (%d requests, was %d)", n, before)
	}
	bob := s.addUser("bob", true)
	bobTok, _ := s.mintToken(bob.ID, "", time.Now().Add(time.Hour))
	if resp := get(bobTok); resp.StatusCode != http.StatusOK {
		t.Errorf("another user: HTTP %d, want 200", resp.StatusCode)
	}
	w1.cancel()
	waitFor(t, "a slot to free up", func() bool { return get(tok).StatusCode == http.StatusOK })
}
