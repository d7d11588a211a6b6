package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-dev/drover/test/harness"
)

// reviewer asks kube-api-auth directly whether it accepts tokens, which
// warms nothing in the apiserver (a token the apiserver tried before
// kube-api-auth knew it would stay refused there for the webhook cache's
// TTL: 2 s in the harness's flags, 2 minutes by default).
type reviewer struct {
	url    string
	client *http.Client
}

func newReviewer(a *harness.AuthEndpoint) *reviewer {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(a.TLS.CACert)
	return &reviewer{url: "https://" + a.Addr + "/v1/authenticate", client: &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}}
}

func (r *reviewer) accepts(ctx context.Context, tok string) (bool, error) {
	body, _ := json.Marshal(authenticationv1.TokenReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "TokenReview"},
		Spec:     authenticationv1.TokenReviewSpec{Token: tok},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var out authenticationv1.TokenReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return false, err
	}
	return out.Status.Authenticated, nil
}

// waitAccepted waits until kube-api-auth accepts every token (the cluster
// controller syncs tokens every 5 s) and returns how long that took.
func (r *reviewer) waitAccepted(ctx context.Context, toks []string, bound time.Duration) (time.Duration, error) {
	start := time.Now()
	pending := slices.Clone(toks)
	for len(pending) > 0 {
		var left []string
		for _, t := range pending {
			ok, err := r.accepts(ctx, t)
			if err != nil || !ok {
				left = append(left, t)
			}
		}
		pending = left
		if len(pending) == 0 {
			break
		}
		if time.Since(start) > bound || ctx.Err() != nil {
			return 0, fmt.Errorf("kube-api-auth still refuses %d of %d tokens after %v", len(pending), len(toks), bound)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start), nil
}

// coldStats are first requests of fresh tokens on one path.
type coldStats struct {
	lat      []time.Duration // sorted
	errors   int
	firstErr string
}

// aceResult is the ACE section.
type aceResult struct {
	steady   []result // GET c=1: direct, Drover, ACE
	cold     map[string]*coldStats
	coldN    int
	syncWait time.Duration // fresh tokens created → all accepted by kube-api-auth
}

// Names of the ACE section's paths.
const (
	pathACE = "ACE"
)

// measureACE starts kube-api-auth, gives the cluster its authorized
// endpoint, and times GETs at concurrency 1: direct (admin token), through
// Drover and through the `-ace` context (both with the same Drover
// token), then the first request of fresh tokens through ACE and Drover.
func measureACE(ctx context.Context, o *Options, e *env) (*aceResult, error) {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	p, err := e.ace.Start(wctx, e.bins.Agent, e.directKubeconfig, filepath.Join(e.dir, "kube-api-auth.log"))
	cancel()
	if err != nil {
		return nil, fmt.Errorf("start kube-api-auth: %w", err)
	}
	defer p.Stop(5 * time.Second)
	if err := e.api.Do(ctx, http.MethodPut, "/v3/clusters/"+e.clusterID+"/auth-endpoint", e.admin,
		map[string]string{"url": e.cluster.URL, "caCert": string(e.cluster.CAData)}, nil); err != nil {
		return nil, fmt.Errorf("set the authorized endpoint: %w", err)
	}
	kc, err := e.api.Kubeconfig(ctx, e.admin, []string{e.clusterID}, "2h")
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "ace-kubeconfig"), kc, 0o600); err != nil {
		return nil, err
	}
	raw, err := clientcmd.Load(kc)
	if err != nil {
		return nil, err
	}
	ctxName := "bench-ace"
	if _, ok := raw.Contexts[ctxName]; !ok {
		return nil, fmt.Errorf("the kubeconfig has no %s context (contexts: %v)", ctxName, keys(raw.Contexts))
	}
	aceCfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, ctxName, nil, nil).ClientConfig()
	if err != nil {
		return nil, err
	}
	droverCfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, "bench", nil, nil).ClientConfig()
	if err != nil {
		return nil, err
	}
	rv := newReviewer(e.ace)
	if _, err := rv.waitAccepted(ctx, []string{aceCfg.BearerToken}, 30*time.Second); err != nil {
		return nil, err
	}
	aceT, err := newTarget(pathACE, aceCfg)
	if err != nil {
		return nil, err
	}
	droverT, err := newTarget("Drover", droverCfg)
	if err != nil {
		return nil, err
	}
	// The new kubeconfig's token replaced the one the bench started with
	// (one live token per login session and cluster): later sections
	// reach Drover with this one.
	e.droverCfg, e.drover = droverCfg, droverT

	r := &aceResult{cold: map[string]*coldStats{}, coldN: o.ACEColdTokens}
	for _, t := range []target{e.direct, droverT, aceT} {
		c := t.clients[encGzip].CoreV1().RESTClient()
		if o.Warmup > 0 {
			measureGets(ctx, c, 1, o.Warmup)
		}
		res := result{kind: "get", n: 1, path: t.name, get: measureGets(ctx, c, 1, o.GetDuration)}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e.log.Info("measured", "what", "ACE section GET c=1", "path", t.name, "result", res.summary())
		r.steady = append(r.steady, res)
	}

	// Fresh tokens, each first used once through ACE and once through
	// Drover: the apiserver's cache (and its webhook cache) and Drover's
	// token cache are keyed by token, so each first request is a miss.
	var toks []string
	for range o.ACEColdTokens {
		var out struct{ Token string }
		if err := e.api.Do(ctx, http.MethodPost, "/v3/tokens", e.admin,
			map[string]string{"clusterId": e.clusterID, "ttl": "1h", "description": "drover-bench cold"}, &out); err != nil {
			return nil, fmt.Errorf("create a token: %w", err)
		}
		toks = append(toks, out.Token)
	}
	if r.syncWait, err = rv.waitAccepted(ctx, toks, 30*time.Second); err != nil {
		return nil, err
	}
	paths := []struct {
		name string
		c    rest.Interface
	}{{pathACE, aceT.clients[encGzip].CoreV1().RESTClient()}, {"Drover", droverT.clients[encGzip].CoreV1().RESTClient()}}
	for _, p := range paths {
		r.cold[p.name] = &coldStats{}
	}
	for _, tok := range toks {
		for _, p := range paths {
			// The connection is warm: the kubeconfig's token, cached.
			_, _ = p.c.Get().Namespace(getNamespace).Resource("configmaps").Name(getName).DoRaw(ctx)
			st := r.cold[p.name]
			t := time.Now()
			_, err := p.c.Get().Namespace(getNamespace).Resource("configmaps").Name(getName).
				SetHeader("Authorization", "Bearer "+tok).DoRaw(ctx)
			d := time.Since(t)
			if err != nil {
				st.errors++
				if st.firstErr == "" {
					st.firstErr = err.Error()
				}
				continue
			}
			st.lat = append(st.lat, d)
		}
	}
	for _, p := range paths {
		st := r.cold[p.name]
		slices.Sort(st.lat)
		e.log.Info("measured", "what", "ACE section first request of a fresh token", "path", p.name,
			"p50", quantile(st.lat, 0.5).Round(time.Microsecond), "max", quantile(st.lat, 1).Round(time.Microsecond), "errors", st.errors)
	}
	return r, nil
}

func keys[V any](m map[string]V) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ", ")
}
