package kubeconfig

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func TestBuildRoundTrip(t *testing.T) {
	ca := []byte("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
	directCA := []byte("-----BEGIN CERTIFICATE-----\ny\n-----END CERTIFICATE-----\n")
	cfg, err := Build(Options{
		ServerURL: "https://drover.example:8443/",
		CAPEM:     ca,
		Username:  "alice",
		Clusters: []Cluster{
			{ID: "c-aaaaa", Name: "prod", Token: "t-a:1", DirectURL: "https://prod.example:6443", DirectCA: directCA},
			{ID: "c-bbbbb", Name: "dev", Token: "t-b:2"},
			{ID: "c-ccccc", Name: "prod", Token: "t-c:3"},
		},
		Current: "c-bbbbb",
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	back, err := clientcmd.Load(b)
	if err != nil {
		t.Fatalf("kubectl's loader rejects the file: %v", err)
	}
	type ctx struct{ Server, User, Token, CA string }
	got := map[string]ctx{}
	for name, c := range back.Contexts {
		cl := back.Clusters[c.Cluster]
		got[name] = ctx{cl.Server, c.AuthInfo, back.AuthInfos[c.AuthInfo].Token, string(cl.CertificateAuthorityData)}
	}
	want := map[string]ctx{
		"prod":         {"https://drover.example:8443/k8s/clusters/c-aaaaa", "alice@prod", "t-a:1", string(ca)},
		"prod-ace":     {"https://prod.example:6443", "alice@prod", "t-a:1", string(directCA)},
		"dev":          {"https://drover.example:8443/k8s/clusters/c-bbbbb", "alice@dev", "t-b:2", string(ca)},
		"prod-c-ccccc": {"https://drover.example:8443/k8s/clusters/c-ccccc", "alice@prod-c-ccccc", "t-c:3", string(ca)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("contexts (-want +got):\n%s", diff)
	}
	if back.CurrentContext != "dev" {
		t.Errorf("current context = %q, want dev", back.CurrentContext)
	}
}

func TestBuildRejects(t *testing.T) {
	ok := Options{ServerURL: "https://d", Username: "u", Clusters: []Cluster{{ID: "c-1", Token: "t"}}}
	tests := []struct {
		name string
		mod  func(*Options)
	}{
		{"http URL", func(o *Options) { o.ServerURL = "http://d" }},
		{"no user", func(o *Options) { o.Username = "" }},
		{"no token", func(o *Options) { o.Clusters = []Cluster{{ID: "c-1"}} }},
		{"no clusters", func(o *Options) { o.Clusters = nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.mod(&o)
			if _, err := Build(o); err == nil {
				t.Error("Build accepted bad options")
			}
		})
	}
	if _, err := Build(ok); err != nil {
		t.Errorf("Build(valid) = %v", err)
	}
}

// TestAttackAuthEndpointNameTaken (a red-team finding, now fixed: the test
// keeps it so) was: a cluster's "<name>-ace" context took the place of a
// cluster named "<name>-ace" listed before it, context, user and all:
// kubectl --context prod-ace, meant for the cluster named prod-ace, went
// to the cluster named prod (with the exec plugin, the user entry of
// prod-ace asked for prod's credential too). Each context still reaches
// its own cluster, whichever order the server lists them in.
func TestAttackAuthEndpointNameTaken(t *testing.T) {
	named := Cluster{ID: "c-aaaaa", Name: "prod-ace"}
	withACE := Cluster{ID: "c-bbbbb", Name: "prod", DirectURL: "https://prod.example:6443"}
	for _, exec := range []bool{false, true} {
		for _, order := range [][]Cluster{{named, withACE}, {withACE, named}} {
			opts := Options{ServerURL: "https://drover.example", Username: "alice", Clusters: order}
			if exec {
				opts.Exec = func(id string, ace bool) *clientcmdapi.ExecConfig {
					args := []string{"--cluster", id}
					if ace {
						args = append(args, "--ace")
					}
					return &clientcmdapi.ExecConfig{Command: "/bin/drover", Args: args}
				}
			} else {
				for i := range opts.Clusters {
					opts.Clusters[i].Token = "t-" + opts.Clusters[i].ID
				}
			}
			cfg, err := Build(opts)
			if err != nil {
				t.Fatal(err)
			}
			// What each context reaches, and with whose credential.
			var got []string
			for _, c := range cfg.Contexts {
				u := cfg.AuthInfos[c.AuthInfo]
				cred := u.Token
				if u.Exec != nil {
					cred = strings.Join(u.Exec.Args, " ")
				}
				got = append(got, cfg.Clusters[c.Cluster].Server+" with "+cred)
			}
			slices.Sort(got)
			want := []string{
				"https://drover.example/k8s/clusters/c-aaaaa with t-c-aaaaa",
				"https://drover.example/k8s/clusters/c-bbbbb with t-c-bbbbb",
				"https://prod.example:6443 with t-c-bbbbb",
			}
			if exec {
				want = []string{
					"https://drover.example/k8s/clusters/c-aaaaa with --cluster c-aaaaa",
					"https://drover.example/k8s/clusters/c-bbbbb with --cluster c-bbbbb",
					"https://prod.example:6443 with --cluster c-bbbbb --ace",
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("exec %v, %s first: what the contexts reach (-want +got):\n%s", exec, order[0].Name, diff)
			}
		}
	}
}
