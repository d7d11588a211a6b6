package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestRemoveCluster: deleting a cluster deletes, in the same transaction,
// the user tokens scoped to it (and, by cascade, its registration tokens),
// reports which tokens went, and leaves everything else alone.
func TestRemoveCluster(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		st := db.open(t)
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		must(t, st.CreateUser(ctx, User{ID: "u-a", Username: "ada", CreatedAt: now}, []byte("x")))
		for _, c := range []string{"c-1", "c-2"} {
			must(t, st.CreateCluster(ctx, Cluster{ID: c, Name: c, CreatedAt: now}))
			must(t, st.CreateRegistrationToken(ctx, RegistrationToken{ID: "r-" + c, ClusterID: c, Hashed: hashed([]byte("s"), []byte("h")), CreatedAt: now}))
		}
		for id, cluster := range map[string]string{"t-kube-1": "c-1", "t-api-1": "c-1", "t-kube-2": "c-2", "t-session": ""} {
			must(t, st.CreateToken(ctx, Token{ID: id, UserID: "u-a", Kind: KindAPI, ClusterID: cluster,
				Hashed: hashed([]byte("s"), []byte("h")), CreatedAt: now}))
		}

		removed, err := st.RemoveCluster(ctx, "c-1")
		must(t, err)
		if diff := cmp.Diff(ClusterRemoval{Tokens: []string{"t-api-1", "t-kube-1"}}, removed); diff != "" {
			t.Errorf("RemoveCluster (-want +got):\n%s", diff)
		}
		toks, err := st.ListTokens(ctx, "u-a")
		must(t, err)
		var left []string
		for _, tk := range toks {
			left = append(left, tk.ID)
		}
		if diff := cmp.Diff([]string{"t-kube-2", "t-session"}, left, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Errorf("tokens left (-want +got):\n%s", diff)
		}
		if _, err := st.RegistrationToken(ctx, "r-c-1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("registration token of the deleted cluster: %v, want ErrNotFound", err)
		}
		must2(t)(st.RegistrationToken(ctx, "r-c-2"))
		if _, err := st.RemoveCluster(ctx, "c-1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("second removal: %v, want ErrNotFound", err)
		}
	})
}
