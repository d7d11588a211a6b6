package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-dev/drover/pkg/audit"
	"github.com/drover-dev/drover/test/harness"
)

func TestAuditLog(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kc := writeKubeconfig(ctx, t, shared.adminToken, []string{shared.clusterID})
	cfg, err := clientcmd.LoadFromFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	kubeToken := cfg.AuthInfos["admin@e2e"].Token
	marker := "audit-marker-" + strings.ToLower(strings.ReplaceAll(time.Now().Format("150405.000"), ".", ""))
	if _, err := kubectl(ctx, t, kc, "get", "ns", marker); err == nil {
		t.Fatal("a namespace that does not exist was found")
	}
	// A nested impersonation: the entry names both the user and whom they
	// asked to act as (jane has no rights, so the apiserver refuses).
	nestedMarker := marker + "-as"
	if _, err := kubectl(ctx, t, kc, "--as", "audit-jane", "--as-group", "audit-team", "get", "ns", nestedMarker); err == nil {
		t.Fatal("audit-jane, who has no rights, read a namespace")
	}
	var apiErr *harness.APIError
	if _, err := shared.server.Login(ctx, marker, "wrong-password-123"); !errors.As(err, &apiErr) || apiErr.Code != 401 {
		t.Fatalf("bad login: %v", err)
	}
	time.Sleep(200 * time.Millisecond) // entries are written when responses end

	var proxied, nested, logins []audit.Entry
	f, err := os.Open(filepath.Join(shared.dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lines := 0
	for sc.Scan() {
		lines++
		var e audit.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line is not JSON: %q", sc.Text())
		}
		if e.Name == marker {
			proxied = append(proxied, e)
		}
		if e.Name == nestedMarker {
			nested = append(nested, e)
		}
		if e.User == marker {
			logins = append(logins, e)
		}
	}
	if len(proxied) != 1 {
		t.Fatalf("the proxied GET was logged %d times, want once: %+v", len(proxied), proxied)
	}
	p := proxied[0]
	tokenID, _, _ := strings.Cut(kubeToken, ":")
	if p.Kind != "proxy" || p.User != "admin" || p.Cluster != shared.clusterID || p.Verb != "get" ||
		p.Resource != "namespaces" || p.Status != 404 || p.TokenID != tokenID || p.Client == "" || p.Time.IsZero() {
		t.Errorf("proxied entry = %+v", p)
	}
	if len(nested) != 1 || nested[0].User != "admin" || nested[0].As != "audit-jane" ||
		strings.Join(nested[0].AsGroups, ",") != "audit-team" || nested[0].Status != 403 {
		t.Errorf("nested impersonation entries = %+v, want one by admin as audit-jane [audit-team], 403", nested)
	}
	if len(logins) != 1 || logins[0].Status != 401 || logins[0].Path != "/v3/login" {
		t.Errorf("failed login entries = %+v", logins)
	}
	t.Logf("%d audit lines so far", lines)

	// The admins' query over the same log (GET /v3/audit) finds the
	// proxied request by its filters; a cluster-scoped credential may not
	// query.
	var page struct{ Items []audit.Entry }
	q := "/v3/audit?cluster=" + shared.clusterID + "&verb=get&status=4xx&limit=1000"
	if err := shared.server.Do(ctx, "GET", q, shared.adminToken, nil, &page); err != nil {
		t.Fatalf("GET /v3/audit: %v", err)
	}
	found := 0
	for _, e := range page.Items {
		if e.Name == marker && e.Status == 404 && e.User == "admin" {
			found++
		}
	}
	if found != 1 {
		t.Errorf("the query found the proxied GET %d times in %d entries, want once", found, len(page.Items))
	}
	if err := shared.server.Do(ctx, "GET", "/v3/audit", kubeToken, nil, nil); !errors.As(err, &apiErr) || apiErr.Code != 403 {
		t.Errorf("a kubeconfig token queried the audit log: %v", err)
	}

	// No secret in any log: not the admin password, not a token's secret.
	secrets := map[string]string{
		"admin password": shared.server.AdminPassword,
		"session token":  shared.adminToken,
		"kubeconfig":     strings.SplitN(kubeToken, ":", 2)[1],
		"bad password":   "wrong-password-123",
	}
	// The harness copies a process's stdout into its log file, marked
	// "[stdout]"; the bootstrap password is printed there on purpose, to the
	// operator's terminal. Everything else is the log proper.
	for _, path := range []string{filepath.Join(shared.dir, "audit.log"), shared.server.LogPath, shared.agent.LogPath} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "[stdout]") {
				continue
			}
			for what, s := range secrets {
				if s != "" && strings.Contains(line, s) {
					t.Errorf("%s logs the %s", filepath.Base(path), what)
				}
			}
		}
	}
}
