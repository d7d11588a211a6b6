package kubeconfig

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/tools/clientcmd"
)

func TestBuildRoundTrip(t *testing.T) {
	cfg, err := Build(Options{
		ServerURL: "https://drover.example:8443/",
		CAPEM:     []byte("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"),
		Username:  "alice",
		Token:     "t-abc:secret",
		Clusters:  []Cluster{{ID: "c-aaaaa", Name: "prod"}, {ID: "c-bbbbb", Name: "dev"}, {ID: "c-ccccc", Name: "prod"}},
		Current:   "c-bbbbb",
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
	type ctx struct{ Server, User, Token string }
	got := map[string]ctx{}
	for name, c := range back.Contexts {
		got[name] = ctx{back.Clusters[c.Cluster].Server, c.AuthInfo, back.AuthInfos[c.AuthInfo].Token}
	}
	want := map[string]ctx{
		"prod":         {"https://drover.example:8443/k8s/clusters/c-aaaaa", "drover-alice", "t-abc:secret"},
		"dev":          {"https://drover.example:8443/k8s/clusters/c-bbbbb", "drover-alice", "t-abc:secret"},
		"prod-c-ccccc": {"https://drover.example:8443/k8s/clusters/c-ccccc", "drover-alice", "t-abc:secret"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("contexts (-want +got):\n%s", diff)
	}
	if back.CurrentContext != "dev" {
		t.Errorf("current context = %q, want dev", back.CurrentContext)
	}
	if string(back.Clusters["dev"].CertificateAuthorityData) != string(cfg.Clusters["dev"].CertificateAuthorityData) {
		t.Error("CA not embedded")
	}
}

func TestBuildRejects(t *testing.T) {
	ok := Options{ServerURL: "https://d", Username: "u", Token: "t", Clusters: []Cluster{{ID: "c-1"}}}
	tests := []struct {
		name string
		mod  func(*Options)
	}{
		{"http URL", func(o *Options) { o.ServerURL = "http://d" }},
		{"no token", func(o *Options) { o.Token = "" }},
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
