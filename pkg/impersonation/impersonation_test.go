package impersonation

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStrip(t *testing.T) {
	tests := []struct {
		name string
		in   http.Header
		want http.Header
	}{
		{
			name: "identity headers in any case",
			in: http.Header{
				"Authorization":               {"Bearer x"},
				"authorization":               {"Bearer y"},
				"Impersonate-User":            {"root"},
				"impersonate-group":           {"system:masters"},
				"IMPERSONATE-UID":             {"0"},
				"Impersonate-Extra-Scopes":    {"all"},
				"X-Remote-User":               {"root"},
				"x-remote-group":              {"system:masters"},
				"X-Remote-Extra-Foo":          {"bar"},
				"Proxy-Authorization":         {"Basic x"},
				"Accept":                      {"application/json"},
				"X-Impersonate-User-Harmless": {"kept: not a prefix match"},
			},
			want: http.Header{
				"Accept":                      {"application/json"},
				"X-Impersonate-User-Harmless": {"kept: not a prefix match"},
			},
		},
		{
			name: "headers named in Connection",
			in: http.Header{
				"Connection":   {"X-Secret, keep-alive", "x-other"},
				"X-Secret":     {"1"},
				"X-Other":      {"2"},
				"Keep-Alive":   {"timeout=5"},
				"Content-Type": {"application/json"},
			},
			want: http.Header{"Content-Type": {"application/json"}},
		},
		{
			name: "Connection under a non-canonical key",
			in: http.Header{
				"connection":   {"X-Secret"},
				"X-Secret":     {"1"},
				"Content-Type": {"application/json"},
			},
			want: http.Header{"Content-Type": {"application/json"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.in.Clone()
			Strip(h)
			if diff := cmp.Diff(tc.want, h); diff != "" {
				t.Errorf("Strip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSet(t *testing.T) {
	tests := []struct {
		name    string
		id      Identity
		want    http.Header
		wantErr bool
	}{
		{
			name: "user, groups and extras",
			id: Identity{
				User:   "alice",
				Groups: []string{"drover:admins", "drover:admins", Authenticated},
				Extra:  map[string][]string{"drover.dev/token-id": {"t-1"}, "Weird key%": {"v"}},
			},
			want: http.Header{
				"Impersonate-User":                        {"alice"},
				"Impersonate-Group":                       {"drover:admins", Authenticated},
				"Impersonate-Extra-Weird%20key%25":        {"v"},
				"Impersonate-Extra-drover.dev%2Ftoken-id": {"t-1"},
			},
		},
		{name: "no user", id: Identity{Groups: []string{"g"}}, want: http.Header{}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			err := Set(h, tc.id)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Set err = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, h); diff != "" {
				t.Errorf("Set (-want +got):\n%s", diff)
			}
		})
	}
}
