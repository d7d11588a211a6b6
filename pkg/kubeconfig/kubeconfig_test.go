package kubeconfig

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/tools/clientcmd"
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
