package console

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-dev/drover/test/browser"
)

// schemaField is a field of a driver's schema as GET
// /v3/drivers/{name}/schema gives it.
type schemaField struct {
	Type        string `json:"type"`
	Default     any    `json:"default"`
	Description string `json:"description"`
	Create      bool   `json:"create"`
}

// recordPhases makes the page record, in window[key], every phase the
// .state badge inside the element sel shows, in order, each once per
// change ("no report" while sel shows none); the record starts with what
// it shows now.
func recordPhases(ctx context.Context, t *testing.T, p *browser.Page, key, sel string) {
	t.Helper()
	eval[bool](ctx, t, p, `(() => {
		const log = window[`+jsString(key)+`] = [];
		const look = () => {
			const box = `+query(sel)+`;
			const phase = box ? (box.querySelector('.state')?.textContent.trim() ?? 'no report') : null;
			if (phase !== null && log[log.length - 1] !== phase) log.push(phase);
		};
		look();
		new MutationObserver(look).observe(document.querySelector('main'), {subtree: true, childList: true, characterData: true});
		return true;
	})()`)
}

// phases is what recordPhases has recorded under key.
func phases(ctx context.Context, t *testing.T, p *browser.Page, key string) []string {
	t.Helper()
	return eval[[]string](ctx, t, p, `window[`+jsString(key)+`] ?? []`)
}

// TestDriverProvisioning: the admin installs the local driver
// (cmd/driver-local, served over http with its checksum) in #/drivers,
// after the form has refused bad input next to its field (the wrong
// checksum by the server, which names the real one); opens "Create a
// cluster", whose form holds exactly the schema's create fields with the
// driver's defaults and descriptions; sees bad values refused next to
// their field (nothing sent; a name taken refused by the server); and
// creates a cluster. The driver starts a real etcd and kube-apiserver; the
// page shows the progress as the live stream pushes it (the phases are
// recorded in order, and the page asks for no cluster); the agent the
// applied manifest would run connects and the cluster's page turns active
// by push. The quota typed in the form is etcd's. Rotating the
// registration token from the cluster's page then pushes the new token
// into the agent's Secret in the cluster, and the running agent stays
// connected. Deleting the cluster (through the API: the console has no
// control for it) stops its processes, the page says it is gone, and the
// driver is removed in #/drivers.
func TestDriverProvisioning(t *testing.T) {
	f := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	p := f.adminPage(t)

	// The driver builds while the page refuses what it refuses by itself.
	began := time.Now()
	binDir := t.TempDir()
	building := buildDriver(ctx, binDir)
	driverURL := serveFile(t, filepath.Join(binDir, "driver-local"))
	var sum string
	built := func(t *testing.T) {
		b := <-building
		if b.err != nil {
			t.Fatal(b.err)
		}
		sum = b.sum
		t.Logf("built driver-local in %v", time.Since(began).Round(time.Millisecond))
	}
	driver := f.uniqueName("local")
	const goodSum = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

	// Installed in #/drivers.
	goTo(ctx, t, p, "#/drivers", query("#driver-install")+` !== null`)
	dname := func(v string) [2]string { return [2]string{"#driver-name", v} }
	durl := func(v string) [2]string { return [2]string{"#driver-url", v} }
	dsum := func(v string) [2]string { return [2]string{"#driver-checksum", v} }
	choose(ctx, t, p, "#driver-address", "unix") // drivers built on Drover's sdk serve a unix socket
	t.Run("install refused", func(t *testing.T) {
		refuse(ctx, t, p, "#driver-install", http.MethodPost, "/v3/drivers", []formCase{
			{name: "a name that is no DNS label", values: [][2]string{dname("Local_Driver"), durl(driverURL), dsum(goodSum)}, field: "driver-name", want: "must be a DNS label"},
			{name: "no URL", values: [][2]string{dname(driver), durl("driver-local")}, field: "driver-url", want: "Enter the driver's download URL"},
			{name: "an http URL without a checksum", values: [][2]string{durl(driverURL), dsum("")}, field: "driver-checksum", want: "An http URL needs a checksum."},
			{name: "a checksum that is no SHA-256", values: [][2]string{dsum(goodSum[:20])}, field: "driver-checksum", want: "64 hexadecimal characters"},
		})
		built(t)
		refuse(ctx, t, p, "#driver-install", http.MethodPost, "/v3/drivers", []formCase{
			{name: "the wrong checksum", values: [][2]string{dsum(goodSum)}, field: "driver-checksum",
				want: "checksum mismatch: the file at the URL has sha256 " + sum, sends: true},
		})
	})
	if sum == "" {
		t.FailNow()
	}
	retype(ctx, t, p, "#driver-checksum", sum)
	click(ctx, t, p, "#driver-install")
	row := fmt.Sprintf(`#drivers tr[data-driver=%q]`, driver)
	waitJS(ctx, t, p, "the driver in #drivers", query(row)+` !== null && `+query("#driver-status")+`.textContent.includes(`+jsString("Driver "+driver+" was installed.")+`)`)
	t.Cleanup(func() { // the cluster's cleanup, registered later, runs first
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if code, _ := f.bearerStatus(ctx, "/v3/drivers/"+driver, f.adminToken); code == http.StatusOK {
			f.server.Do(ctx, http.MethodDelete, "/v3/drivers/"+driver, f.adminToken, nil, nil)
		}
	})
	sandboxed := os.Geteuid() == 0
	if got := text(ctx, t, p, row+" td:nth-of-type(2)"); strings.HasPrefix(got, "yes") != sandboxed {
		t.Errorf("the driver's Sandboxed cell: %q, want sandboxed %v (the server runs as uid %d)", got, sandboxed, os.Geteuid())
	}
	var info struct{ Checksum, URL string }
	if err := f.server.Do(ctx, http.MethodGet, "/v3/drivers/"+driver, f.adminToken, nil, &info); err != nil || info.Checksum != sum || info.URL != driverURL {
		t.Fatalf("GET /v3/drivers/%s: %+v (%v), want checksum %s from %s", driver, info, err, sum, driverURL)
	}

	// The form generated from its schema.
	click(ctx, t, p, row+` a[href="#/drivers/`+driver+`/create"]`)
	waitJS(ctx, t, p, "the driver's create form", `location.hash === `+jsString("#/drivers/"+driver+"/create")+` && `+query("#provision-submit")+` !== null`)
	var schema struct{ ResourceFields map[string]schemaField }
	if err := f.server.Do(ctx, http.MethodGet, "/v3/drivers/"+driver+"/schema", f.adminToken, nil, &schema); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for name, sf := range schema.ResourceFields {
		if !sf.Create {
			continue
		}
		v := ""
		if sf.Default != nil {
			v = fmt.Sprint(sf.Default)
		}
		want["provision-field-"+name] = v
		hint := eval[string](ctx, t, p, query("#provision-field-"+name+"-hint")+`?.textContent ?? ''`)
		if !strings.Contains(hint, sf.Description) || (v != "" && !strings.Contains(hint, "Default: "+v+".")) {
			t.Errorf("the hint of %s: %q, want its description %q and default %q", name, hint, sf.Description, v)
		}
	}
	if len(want) < 3 {
		t.Fatalf("the local driver's schema has %d create fields: %+v", len(want), schema)
	}
	shown := eval[map[string]string](ctx, t, p, `Object.fromEntries(Array.from(document.querySelectorAll('#provision [id^="provision-field-"]'))
		.filter(e => ['INPUT', 'SELECT', 'TEXTAREA'].includes(e.tagName))
		.map(e => [e.id, e.type === 'checkbox' ? String(e.checked) : e.value]))`)
	if diff := cmp.Diff(want, shown); diff != "" {
		t.Errorf("the form's fields and what they start with, against the schema's create fields and defaults (-want +got):\n%s", diff)
	}

	// Bad values.
	clusterName := f.uniqueName("provisioned")
	cname := func(v string) [2]string { return [2]string{"#provision-name", v} }
	quota := func(v string) [2]string { return [2]string{"#provision-field-etcdQuotaMb", v} }
	testbed := [2]string{"#provision-field-binDir", f.testbedDir}
	t.Run("create refused", func(t *testing.T) {
		refuse(ctx, t, p, "#provision-submit", http.MethodPost, "/v3/clusters", []formCase{
			{name: "no name", values: [][2]string{cname(""), testbed, quota("512")}, field: "provision-name", want: "Enter a cluster name."},
			{name: "a name that is no DNS label", values: [][2]string{cname("Local_1")}, field: "provision-name", want: "must be a DNS label"},
			{name: "a quota that is no number", values: [][2]string{cname(clusterName), quota("lots")}, field: "provision-field-etcdQuotaMb", want: "must be a whole number"},
			{name: "a fractional quota", values: [][2]string{quota("1.5")}, field: "provision-field-etcdQuotaMb", want: "must be a whole number"},
			{name: "the name of a cluster that exists", values: [][2]string{cname(f.clusterName), quota("512")}, field: "provision-name", want: "already exists", sends: true},
		})
	})
	if c, ok := f.clusterNamed(ctx, t, f.clusterName); !ok || c.ID != f.clusterID || c.Provisioning != nil {
		t.Fatalf("the fixture's cluster after the refused create: %+v (%v)", c, ok)
	}

	// Created: the page follows the progress.
	retype(ctx, t, p, "#provision-name", clusterName)
	recordPhases(ctx, t, p, "__createPhases", "#provision-progress")
	p.ResetRequests()
	began = time.Now()
	click(ctx, t, p, "#provision-submit")
	waitJS(ctx, t, p, "#provision-progress", query("#provision-progress")+` !== null && `+query("#provision-submit")+`.disabled`)
	var id string
	if err := eventually(ctx, 100*time.Millisecond, func() error {
		c, ok := f.clusterNamed(ctx, t, clusterName)
		if !ok {
			return fmt.Errorf("no cluster %s", clusterName)
		}
		id = c.ID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	onDisk := f.clusterDir(driver, id)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if code, _ := f.bearerStatus(ctx, "/v3/clusters/"+id, f.adminToken); code == http.StatusOK {
			f.server.Do(ctx, http.MethodDelete, "/v3/clusters/"+id, f.adminToken, nil, nil)
			if err := f.waitGone(ctx, id, time.Minute); err != nil {
				t.Errorf("removing cluster %s: %v", id, err)
			}
		}
		if killed := killMentioning(onDisk); len(killed) > 0 {
			t.Errorf("the removed cluster's processes were still running; killed %v", killed)
		}
	})
	links := eval[[]string](ctx, t, p, `Array.from(document.querySelectorAll('main a[href^="#/clusters/"]')).map(a => a.getAttribute('href'))`)
	// The create page follows the cluster it made: a link to its page,
	// its progress from the live stream. (It once took the API's
	// {"cluster": {...}} answer for the cluster and linked to
	// #/clusters/undefined, waiting forever.)
	if !slices.Equal(links, []string{"#/clusters/" + id}) {
		t.Fatalf("the create page links to %v, want only #/clusters/%s (it shows %q)", links, id, text(ctx, t, p, "#provision-progress"))
	}
	waitJS(ctx, t, p, "waiting-for-agent on the create page", query("#provision-progress .state")+`?.textContent === 'waiting-for-agent'`)
	t.Logf("provisioned (etcd and kube-apiserver started, the agent's manifest applied) in %v", time.Since(began).Round(time.Millisecond))
	createPhases, createRequests := phases(ctx, t, p, "__createPhases"), p.RequestLog()

	// The cluster's page: the agent connects, the page turns active.
	click(ctx, t, p, `main a[href="#/clusters/`+id+`"]`)
	const progress = `section[aria-labelledby="provisioning-title"]`
	waitJS(ctx, t, p, "the cluster's page with its progress", `location.hash === `+jsString("#/clusters/"+id)+` && `+query(progress+" .state")+`?.textContent === 'waiting-for-agent'`)
	recordPhases(ctx, t, p, "__clusterPhases", progress)
	eval[bool](ctx, t, p, `window.__sameDocument = true`)
	p.ResetRequests()
	adminKC := filepath.Join(onDisk, "admin.kubeconfig")
	agent := f.startClusterAgent(ctx, t, adminKC)
	waitJS(ctx, t, p, "active on the cluster's page", query(progress+" .state")+`?.textContent === 'active' && `+query("#cluster-state")+`?.textContent === 'active'`)
	if got := phases(ctx, t, p, "__clusterPhases"); !slices.Equal(got, []string{"waiting-for-agent", "active"}) {
		t.Errorf("the cluster's page showed the phases %v, want waiting-for-agent, active", got)
	}
	if !eval[bool](ctx, t, p, `window.__sameDocument === true`) {
		t.Error("the cluster's page was reloaded")
	}
	if log := p.RequestLog(); len(log) > 0 {
		t.Errorf("the cluster's page sent %v while the cluster turned active: it must come by push", log)
	}
	v := f.waitPhase(ctx, t, id, "active", 30*time.Second)
	if q := v.Provisioning.Config["etcdQuotaMb"]; q != float64(512) {
		t.Errorf("the cluster's config holds etcdQuotaMb %v, want the 512 typed", q)
	}
	etcd, ok := pidFile(filepath.Join(onDisk, "etcd.pid"))
	if !ok || !strings.Contains(cmdline(etcd), fmt.Sprintf("--quota-backend-bytes=%d", 512<<20)) {
		t.Errorf("the cluster's etcd (pid %d, running %v) does not have the quota typed: %s", etcd, ok, cmdline(etcd))
	}
	apiserver, _ := pidFile(filepath.Join(onDisk, "kube-apiserver.pid"))

	t.Run("progress on the create page", func(t *testing.T) {
		t.Logf("the create page showed the phases %v", createPhases)
		// The answer to the POST shows provisioning; the stream brings
		// waiting-for-agent.
		if !slices.Equal(createPhases, []string{"no report", "provisioning", "waiting-for-agent"}) && !slices.Equal(createPhases, []string{"provisioning", "waiting-for-agent"}) {
			t.Errorf("the create page showed the phases %v, want provisioning, then waiting-for-agent", createPhases)
		}
		for _, r := range createRequests {
			if r.Path == "/v3/clusters/"+id || (r.Path == "/v3/clusters" && r.Method == http.MethodGet) {
				t.Errorf("the create page asked for %s: it must follow the cluster through the live stream", r)
			}
		}
	})

	// Rotating with the agent connected: the new token lands in the
	// agent's Secret in the cluster; the running agent, which read the old
	// one at start, keeps its connection (the old token is good for the
	// grace period, an hour by default; a pod would read the new one from
	// the mounted Secret on its next connect).
	command := rotate(ctx, t, p, id, "", "The new token was pushed to the connected agents.")
	_, newToken := f.importURL(t, command)
	if got, err := credentialsToken(ctx, adminKC); err != nil || got != newToken {
		t.Errorf("the agent's Secret after the rotation: %v; holds the new token: %v", err, got == newToken)
	}
	if v := f.waitPhase(ctx, t, id, "active", 10*time.Second); !v.Tunnel.Connected {
		t.Errorf("the agent disconnected after the rotation: %+v", v)
	}
	if got := text(ctx, t, p, "#cluster-state"); got != "active" {
		t.Errorf("#cluster-state after the rotation: %q, want active", got)
	}

	// Deleted: the page says the cluster is gone, nothing of it runs.
	began = time.Now()
	if err := f.server.Do(ctx, http.MethodDelete, "/v3/clusters/"+id, f.adminToken, nil, nil); err != nil {
		t.Fatal(err)
	}
	waitJS(ctx, t, p, "the cluster's page saying it is gone", query("main .error-box")+`?.textContent.includes('not found')`)
	t.Logf("removed in %v; the cluster's page showed %v", time.Since(began).Round(time.Millisecond), phases(ctx, t, p, "__clusterPhases"))
	if err := f.waitGone(ctx, id, 10*time.Second); err != nil {
		t.Error(err)
	}
	agent.Stop(5 * time.Second)
	for _, pid := range []int{etcd, apiserver} {
		if pid > 0 && alive(pid) {
			t.Errorf("process %d of the removed cluster runs: %s", pid, cmdline(pid))
		}
	}
	if _, err := os.Stat(onDisk); !os.IsNotExist(err) {
		t.Errorf("the removed cluster's directory %s: %v, want it gone", onDisk, err)
	}

	// The driver, removed in #/drivers.
	goTo(ctx, t, p, "#/drivers", query(row)+` !== null`)
	click(ctx, t, p, row+" .driver-remove")
	click(ctx, t, p, row+" .driver-remove-confirm")
	waitJS(ctx, t, p, "the driver gone from the list", query(row)+` === null && `+query("#drivers-status")+`.textContent.includes(`+jsString("Driver "+driver+" was removed.")+`)`)
	if code, err := f.bearerStatus(ctx, "/v3/drivers/"+driver, f.adminToken); err != nil || code != http.StatusNotFound {
		t.Errorf("GET /v3/drivers/%s after removing it in the page: %d (%v), want 404", driver, code, err)
	}
}
