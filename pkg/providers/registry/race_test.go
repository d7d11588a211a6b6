package registry

import (
	"context"
	"net/url"
	"testing"

	"github.com/drover-dev/drover/pkg/providers"
)

// rotatedElsewhere plays another replica: while this refresh is at the
// provider, the user's stored refresh credential is replaced (that
// replica's refresh rotated it), so the provider refuses the old one.
type rotatedElsewhere struct {
	fakeBase
	rotate func()
}

func (p *rotatedElsewhere) Refresh(context.Context, providers.Principal) (providers.Principal, error) {
	if p.rotate != nil {
		p.rotate()
	}
	return providers.Principal{}, providers.InvalidCredentials("fake: refresh token already used")
}

// TestRefreshRaceDoesNotDisable: a refusal of a refresh credential that
// another refresh has meanwhile rotated does not disable the user; a
// refusal of the current credential does.
func TestRefreshRaceDoesNotDisable(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	b.save(t, "sso", "fake-redirect", map[string]any{"realm": "r"})
	bg := begin(t, b, "sso")
	p, _, err := b.reg.Finish(ctx, "sso", url.Values{"state": {bg.State}, "code": {"alice"}}, bg.Claim)
	if err != nil {
		t.Fatal(err)
	}
	u, _, err := b.reg.Record(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	prov := &rotatedElsewhere{fakeBase: fakeBase{name: "sso", dir: b.dir}}
	prov.rotate = func() {
		sealed, err := b.reg.opts.Sealer.Seal([]byte("refresh-rotated-elsewhere"), refreshPurpose(u.ID))
		if err != nil {
			t.Error(err)
			return
		}
		cur, _ := b.st.UserByID(ctx, u.ID)
		if err := b.st.UpdateExternalUser(ctx, cur, sealed); err != nil {
			t.Error(err)
		}
	}
	b.reg.mu.Lock()
	c := b.reg.cache["sso"]
	c.provider = prov
	b.reg.cache["sso"] = c
	b.reg.mu.Unlock()

	res, err := b.reg.Refresh(ctx, u.ID)
	if err == nil || res.Disabled {
		t.Fatalf("refresh that raced another: %+v %v; want a retryable error, not disabled", res, err)
	}
	if got, _ := b.st.UserByID(ctx, u.ID); got.Disabled {
		t.Fatal("user disabled after a refresh race")
	}
	prov.rotate = nil // now the stored credential itself is refused
	res, err = b.reg.Refresh(ctx, u.ID)
	if err != nil || !res.Disabled {
		t.Fatalf("refusal of the current credential: %+v %v; want disabled", res, err)
	}
}
