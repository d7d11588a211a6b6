package registry

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestViewRedactsURLs: a provider's view shows its URL fields without
// userinfo, query and fragment, whatever the stored configuration holds.
func TestViewRedactsURLs(t *testing.T) {
	types := DefaultTypes()
	tests := []struct {
		typ, config string
		want        map[string]any
	}{
		{TypeLDAP, `{"url":"ldaps://cn=admin:hunter2@ldap.example:636/?bind=x#f","bindPassword":"pw"}`,
			map[string]any{"url": "ldaps://ldap.example:636/"}},
		{TypeOIDC, `{"issuerURL":"https://issuer.example/realms/x?access_token=abc","redirectURL":"https://drover.example/cb?sig=1","clientSecret":"s"}`,
			map[string]any{"issuerURL": "https://issuer.example/realms/x", "redirectURL": "https://drover.example/cb"}},
		{TypeGitHub, `{"baseURL":"https://user:token@ghe.example/api/v3","redirectURL":"https://drover.example/cb#x"}`,
			map[string]any{"baseURL": "https://ghe.example/api/v3", "redirectURL": "https://drover.example/cb"}},
	}
	for _, tc := range tests {
		t.Run(tc.typ, func(t *testing.T) {
			info, err := view(types[tc.typ], "p", tc.typ, []byte(tc.config), time.Time{}, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, info.Config); diff != "" {
				t.Errorf("view config (-want +got):\n%s", diff)
			}
		})
	}
}
