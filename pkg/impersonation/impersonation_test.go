package impersonation

import (
	"errors"
	"net/http"
	"strings"
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
				"Impersonate_User":            {"root"},
				"x_remote_user":               {"root"},
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
			name: "a bearer token offered as a websocket subprotocol",
			in: http.Header{
				"Sec-Websocket-Protocol": {"v5.channel.k8s.io, base64url.bearer.authorization.k8s.io.dG9rZW4", "BASE64URL.Bearer.Authorization.K8S.IO.eA,v4.channel.k8s.io"},
			},
			want: http.Header{"Sec-Websocket-Protocol": {"v5.channel.k8s.io", "v4.channel.k8s.io"}},
		},
		{
			name: "only a bearer token offered as a subprotocol",
			in: http.Header{
				"sec-websocket-protocol": {"base64url.bearer.authorization.k8s.io.dG9rZW4"},
				"Content-Type":           {"application/json"},
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

// TestExtraKeyRoundTrip: whatever key Set writes, the apiserver reads
// (canonical header name, lower-cased suffix, percent-unescaped) as
// exactly that key, and ParseRequest reads it the same way.
func TestExtraKeyRoundTrip(t *testing.T) {
	for _, k := range []string{"scopes", "drover.dev/token-id", "Acme/Role", "a%2Fb", "100%", "with space", "é/ü", "%zz", "UPPER", "tab\tkey", "x-Y_z"} {
		t.Run(k, func(t *testing.T) {
			h := http.Header{}
			if err := Set(h, Identity{User: "jane", Extra: map[string][]string{k: {"v"}}}); err != nil {
				t.Fatal(err)
			}
			var got []string
			for name := range h {
				c := http.CanonicalHeaderKey(name)
				if suffix, ok := strings.CutPrefix(c, "Impersonate-Extra-"); ok {
					got = append(got, decodeExtraKey(suffix))
				}
			}
			if diff := cmp.Diff([]string{k}, got); diff != "" {
				t.Errorf("keys read back (-want +got):\n%s", diff)
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
				"Impersonate-Extra-%57eird%20key%25":      {"v"},
				"Impersonate-Extra-drover.dev%2Ftoken-id": {"t-1"},
			},
		},
		{name: "no user", id: Identity{Groups: []string{"g"}}, want: http.Header{}, wantErr: true},
		{
			name: "uid",
			id:   Identity{User: "alice", UID: "1000"},
			want: http.Header{"Impersonate-User": {"alice"}, "Impersonate-Group": {Authenticated}, "Impersonate-Uid": {"1000"}},
		},
		{
			// The apiserver gives it system:serviceaccounts,
			// system:serviceaccounts:team-a and system:authenticated.
			name: "a ServiceAccount without groups gets no Impersonate-Group",
			id:   Identity{User: "system:serviceaccount:team-a:builder", Extra: map[string][]string{"drover.dev/original-user": {"ada"}}},
			want: http.Header{
				"Impersonate-User": {"system:serviceaccount:team-a:builder"},
				"Impersonate-Extra-drover.dev%2Foriginal-user": {"ada"},
			},
		},
		{
			name: "a ServiceAccount with groups gets those and system:authenticated",
			id:   Identity{User: "system:serviceaccount:team-a:builder", Groups: []string{"devs"}},
			want: http.Header{"Impersonate-User": {"system:serviceaccount:team-a:builder"}, "Impersonate-Group": {"devs", Authenticated}},
		},
		{
			name: "a user that is no ServiceAccount to the apiserver gets system:authenticated",
			id:   Identity{User: "system:serviceaccount:Team:builder"},
			want: http.Header{"Impersonate-User": {"system:serviceaccount:Team:builder"}, "Impersonate-Group": {Authenticated}},
		},
		{name: "uid with a trailing space", id: Identity{User: "alice", UID: "1000 "}, want: http.Header{}, wantErr: true},
		{
			name: "UTF-8 and inner spaces are sent as they are",
			id:   Identity{User: "José Díaz", Groups: []string{"corp:domain admins", "équipe\tdev"}},
			want: http.Header{
				"Impersonate-User":  {"José Díaz"},
				"Impersonate-Group": {"corp:domain admins", "équipe\tdev", Authenticated},
			},
		},
		// HTTP/1.1 trims header values: each of these would reach the
		// apiserver as another name than the one Drover checked, or be
		// refused or rewritten on the way. Set writes nothing.
		{name: "group with a trailing space", id: Identity{User: "alice", Groups: []string{"corp:admins "}}, want: http.Header{}, wantErr: true},
		{name: "group with a leading tab", id: Identity{User: "alice", Groups: []string{"\tcorp:admins"}}, want: http.Header{}, wantErr: true},
		{name: "user with a trailing space", id: Identity{User: "root "}, want: http.Header{}, wantErr: true},
		{name: "user of one space", id: Identity{User: " "}, want: http.Header{}, wantErr: true},
		{name: "user with a newline", id: Identity{User: "alice\r\nImpersonate-Group: system:masters"}, want: http.Header{}, wantErr: true},
		{name: "group with a control character", id: Identity{User: "alice", Groups: []string{"corp\x00admins"}}, want: http.Header{}, wantErr: true},
		{name: "group with DEL", id: Identity{User: "alice", Groups: []string{"corp\x7fadmins"}}, want: http.Header{}, wantErr: true},
		{name: "empty group", id: Identity{User: "alice", Groups: []string{"devs", ""}}, want: http.Header{}, wantErr: true},
		{
			name: "extra value with a trailing space", want: http.Header{}, wantErr: true,
			id: Identity{User: "alice", Extra: map[string][]string{"drover.dev/original-user": {"ada "}}},
		},
		{
			name: "empty extra value", want: http.Header{}, wantErr: true,
			id: Identity{User: "alice", Extra: map[string][]string{"drover.dev/token-id": {""}}},
		},
		{
			name: "empty extra key", want: http.Header{}, wantErr: true,
			id: Identity{User: "alice", Extra: map[string][]string{"": {"v"}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			err := Set(h, tc.id)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Set err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrNoIdentity) && !errors.Is(err, ErrInvalidIdentity) {
				t.Errorf("Set err = %v, want ErrNoIdentity or ErrInvalidIdentity", err)
			}
			if diff := cmp.Diff(tc.want, h); diff != "" {
				t.Errorf("Set (-want +got):\n%s", diff)
			}
		})
	}
}
