package informer

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Informer watches the ConfigMaps of one namespace.
type Informer struct {
	lists atomic.Int32
	store cache.Store
	stop  chan struct{}
}

// Start runs an informer with cfg (a copy is changed: protobuf, as
// controllers run, and no client-side rate limit) on the ConfigMaps of ns
// and returns once it has synced. Stop ends it.
func Start(ctx context.Context, cfg *rest.Config, ns string) (*Informer, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	cfg.QPS, cfg.Burst = -1, 0
	in := &Informer{stop: make(chan struct{})}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			// A LIST, or a streaming list (client-go's WatchList).
			if q := r.URL.Query(); r.Method == http.MethodGet && (q.Get("watch") == "" || q.Get("sendInitialEvents") == "true") {
				in.lists.Add(1)
			}
			return rt.RoundTrip(r)
		})
	})
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	lw := cache.NewListWatchFromClient(cs.CoreV1().RESTClient(), "configmaps", ns, fields.Everything())
	inf := cache.NewSharedInformer(lw, &corev1.ConfigMap{}, 0)
	in.store = inf.GetStore()
	go inf.Run(in.stop)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		close(in.stop)
		return nil, fmt.Errorf("the informer on namespace %s never synced: %w", ns, ctx.Err())
	}
	return in, nil
}

// Stop ends the informer.
func (in *Informer) Stop() { close(in.stop) }

// Lists is how many LIST requests the informer has made.
func (in *Informer) Lists() int { return int(in.lists.Load()) }

// Has reports whether the informer holds ConfigMap ns/name.
func (in *Informer) Has(ns, name string) bool {
	_, ok, _ := in.store.GetByKey(ns + "/" + name)
	return ok
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
