package console

import (
	"context"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-dev/drover/test/browser"
)

// The markup the tests put in values the console shows: were either
// rendered as HTML, it would set window.__xss (or, refused by the CSP,
// leave a violation among the page's problems) and the image would be
// requested from /x.
const (
	xssDescription = `<img src=x onerror="window.__xss=1">`
	xssMessage     = `<script>window.__xss=2</script>`
)

// noMarkupRan fails t when anything the tests' values hold ran or loaded
// in p.
func noMarkupRan(ctx context.Context, t *testing.T, p *browser.Page, where string) {
	t.Helper()
	if xss := eval[string](ctx, t, p, `typeof window.__xss`); xss != "undefined" {
		t.Errorf("%s: window.__xss is %s: a value was rendered as HTML", where, xss)
	}
	for _, r := range p.RequestLog() {
		if r.Path == "/x" {
			t.Errorf("%s: the page requested %s: a value was rendered as HTML", where, r)
		}
	}
}

// TestValuesAsText: a token description and a downstream Warning event's
// message that hold markup are shown as the literal text they are.
func TestValuesAsText(t *testing.T) {
	f := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := f.adminPage(t)
	p.ResetRequests()

	t.Run("token description", func(t *testing.T) {
		id, _ := createToken(ctx, t, p, xssDescription)
		t.Cleanup(func() { f.server.Do(context.Background(), http.MethodDelete, "/v3/tokens/"+id, f.adminToken, nil, nil) })
		if imgs := eval[int](ctx, t, p, `document.querySelectorAll('#tokens img').length`); imgs != 0 {
			t.Errorf("#tokens holds %d img elements", imgs)
		}
		noMarkupRan(ctx, t, p, "#/tokens")
	})

	t.Run("warning event", func(t *testing.T) {
		cs, err := kubernetes.NewForConfig(f.cluster.RESTConfig())
		if err != nil {
			t.Fatal(err)
		}
		const ns = "console-warnings"
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		now := metav1.Now()
		ev := &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{GenerateName: "probe-", Namespace: ns},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "probe"},
			Type:           corev1.EventTypeWarning, Reason: "ConsoleProbe", Message: xssMessage, Count: 1,
			FirstTimestamp: now, LastTimestamp: now, Source: corev1.EventSource{Component: "console-test"},
		}
		if ev, err = cs.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cs.CoreV1().Events(ns).Delete(context.Background(), ev.Name, metav1.DeleteOptions{}) })

		// The controller gathers warnings every 5 s; the page has them by
		// push.
		goTo(ctx, t, p, "#/clusters/"+f.clusterID, query("#cluster-warnings")+` !== null`)
		waitJS(ctx, t, p, "the event in #cluster-warnings", `Array.from(document.querySelectorAll('#cluster-warnings tr.warning-event td')).some(td => td.textContent === `+jsString(xssMessage)+`)`)
		if scripts := eval[int](ctx, t, p, `document.querySelectorAll('main script').length`); scripts != 0 {
			t.Errorf("the cluster's page holds %d script elements", scripts)
		}
		noMarkupRan(ctx, t, p, "#/clusters/"+f.clusterID)
	})
}
