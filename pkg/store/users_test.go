package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func addToken(t *testing.T, st *Store, id, userID, kind string) {
	t.Helper()
	must(t, st.CreateToken(context.Background(), Token{ID: id, UserID: userID, Kind: kind, CreatedAt: time.Now(),
		Hashed: hashed([]byte("s"), []byte("h"))}))
}

func saveProvider(t *testing.T, st *Store, name string) {
	t.Helper()
	must(t, st.SaveAuthProvider(context.Background(), AuthProvider{Name: name, Type: "ldap", Config: []byte("sealed"),
		CreatedAt: time.Now(), UpdatedAt: time.Now()}))
}

// TestExternalUsernameFixed: a login or refresh updates the login, names
// and groups of an external user, never its username (the Kubernetes
// identity downstream RBAC names), and never a disabled user.
func TestExternalUsernameFixed(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		st := db.open(t)
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		u := User{ID: "u-1", Username: "corp:alice", Provider: "corp", ExternalID: "dn-1", Login: "alice", CreatedAt: now, GroupsAt: now}
		if err := st.CreateExternalUser(ctx, u, nil); !errors.Is(err, ErrProviderGone) {
			t.Fatalf("create for an unconfigured provider: %v, want ErrProviderGone", err)
		}
		saveProvider(t, st, "corp")
		must(t, st.CreateExternalUser(ctx, u, []byte("sealed")))
		u.Username, u.Login, u.DisplayName, u.Groups = "corp:mallory", "alice2", "Alice", []string{"corp:devs"}
		must(t, st.UpdateExternalUser(ctx, u, nil))
		got, err := st.UserByID(ctx, "u-1")
		must(t, err)
		if got.Username != "corp:alice" || got.Login != "alice2" || got.DisplayName != "Alice" || !cmp.Equal(got.Groups, []string{"corp:devs"}) {
			t.Errorf("after an update: %+v", got)
		}
		if b, _ := st.UserRefresh(ctx, "u-1"); string(b) != "sealed" {
			t.Errorf("refresh credential %q", b)
		}
		must2(t)(st.SetUserDisabled(ctx, "u-1", true))
		u.Groups = []string{"corp:admins"}
		if err := st.UpdateExternalUser(ctx, u, nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("update of a disabled user: %v, want ErrNotFound", err)
		}
		if got, _ := st.UserByID(ctx, "u-1"); !cmp.Equal(got.Groups, []string{"corp:devs"}) {
			t.Errorf("a disabled user's groups were written: %v", got.Groups)
		}
	})
}

// TestRefreshQueue: users whose refresh was just attempted (and failed or
// had nothing to refresh with) go to the back of the queue and are not due
// again before the cutoff, so they cannot starve the others.
func TestRefreshQueue(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		st := db.open(t)
		saveProvider(t, st, "corp")
		t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range 4 {
			// u-0 has the oldest groups.
			must(t, st.CreateExternalUser(ctx, User{ID: fmt.Sprint("u-", i), Username: fmt.Sprint("corp:u", i), Provider: "corp",
				ExternalID: fmt.Sprint(i), GroupsAt: t0.Add(time.Duration(i) * time.Minute)}, nil))
		}
		ids := func(cutoff time.Time, limit int) []string {
			us, err := st.UsersToRefresh(ctx, "corp", cutoff, limit)
			must(t, err)
			var out []string
			for _, u := range us {
				out = append(out, u.ID)
			}
			return out
		}
		t1 := t0.Add(2 * time.Hour)
		if diff := cmp.Diff([]string{"u-0", "u-1"}, ids(t1, 2)); diff != "" {
			t.Errorf("first batch (-want +got):\n%s", diff)
		}
		// u-0 and u-1 keep failing: the next batch is the others.
		must(t, st.RefreshAttempted(ctx, "u-0", t1))
		must(t, st.RefreshAttempted(ctx, "u-1", t1))
		if diff := cmp.Diff([]string{"u-2", "u-3"}, ids(t1.Add(time.Minute), 2)); diff != "" {
			t.Errorf("batch after two failures (-want +got):\n%s", diff)
		}
		// An interval later, everyone is due; the least recently tried first.
		must(t, st.RefreshAttempted(ctx, "u-2", t1.Add(time.Minute)))
		if diff := cmp.Diff([]string{"u-3", "u-0", "u-1", "u-2"}, ids(t1.Add(2*time.Hour), 10)); diff != "" {
			t.Errorf("queue an interval later (-want +got):\n%s", diff)
		}
	})
}

// TestDropStaleGroups: one statement drops the groups of every external
// user not refreshed since the cutoff, whatever the reason; local users
// and fresh groups stay.
func TestDropStaleGroups(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		st := db.open(t)
		saveProvider(t, st, "corp")
		t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		must(t, st.CreateExternalUser(ctx, User{ID: "u-stale", Username: "corp:a", Provider: "corp", ExternalID: "a",
			Groups: []string{"corp:admins", "corp:devs"}, GroupsAt: t0}, nil))
		must(t, st.CreateExternalUser(ctx, User{ID: "u-fresh", Username: "corp:b", Provider: "corp", ExternalID: "b",
			Groups: []string{"corp:devs"}, GroupsAt: t0.Add(2 * time.Hour)}, nil))
		must(t, st.CreateUser(ctx, User{ID: "u-local", Username: "carol", Groups: []string{"corp:devs"}}, []byte("h")))
		dropped, err := st.DropStaleGroups(ctx, t0.Add(time.Hour))
		must(t, err)
		if diff := cmp.Diff([]string{"u-stale"}, dropped); diff != "" {
			t.Errorf("dropped (-want +got):\n%s", diff)
		}
		for id, want := range map[string]int{"u-stale": 0, "u-fresh": 1, "u-local": 1} {
			if u, _ := st.UserByID(ctx, id); len(u.Groups) != want {
				t.Errorf("%s: groups %v, want %d", id, u.Groups, want)
			}
		}
		if dropped, _ := st.DropStaleGroups(ctx, t0.Add(time.Hour)); len(dropped) != 0 {
			t.Errorf("second pass dropped %v", dropped)
		}
	})
}

// TestRemoveAuthProvider: removing a provider disables its users and
// deletes every one of their tokens in one transaction; other users keep
// theirs.
func TestRemoveAuthProvider(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		st := db.open(t)
		saveProvider(t, st, "corp")
		saveProvider(t, st, "sso")
		for _, u := range []User{
			{ID: "u-a", Username: "corp:a", Provider: "corp", ExternalID: "a"},
			{ID: "u-b", Username: "corp:b", Provider: "corp", ExternalID: "b", Disabled: true},
			{ID: "u-c", Username: "sso:c", Provider: "sso", ExternalID: "c"},
		} {
			must(t, st.CreateExternalUser(ctx, u, nil))
			if u.Disabled {
				must2(t)(st.SetUserDisabled(ctx, u.ID, true))
			}
		}
		addToken(t, st, "t-a1", "u-a", KindSession)
		addToken(t, st, "t-a2", "u-a", KindAPI)
		addToken(t, st, "t-b1", "u-b", KindAPI) // created after disabling, by whatever means
		addToken(t, st, "t-c1", "u-c", KindAPI)
		got, err := st.RemoveAuthProvider(ctx, "corp")
		must(t, err)
		want := ProviderRemoval{DisabledUsers: []string{"u-a"}, Tokens: []string{"t-a1", "t-a2", "t-b1"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("removal (-want +got):\n%s", diff)
		}
		if u, _ := st.UserByID(ctx, "u-a"); !u.Disabled {
			t.Error("u-a still enabled")
		}
		if toks, _ := st.ListTokens(ctx, "u-c"); len(toks) != 1 {
			t.Errorf("another provider's user lost tokens: %v", toks)
		}
		if _, err := st.AuthProvider(ctx, "corp"); !errors.Is(err, ErrNotFound) {
			t.Errorf("provider still there: %v", err)
		}
		if _, err := st.RemoveAuthProvider(ctx, "corp"); !errors.Is(err, ErrNotFound) {
			t.Errorf("second removal: %v", err)
		}
		// The provider is gone: no new user can be created for it.
		if err := st.CreateExternalUser(ctx, User{ID: "u-d", Username: "corp:d", Provider: "corp", ExternalID: "d"}, nil); !errors.Is(err, ErrProviderGone) {
			t.Errorf("create after removal: %v", err)
		}
	})
}

// TestUpdateUserAllOrNothing: a change that fails in part changes nothing.
func TestUpdateUserAllOrNothing(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		st := db.open(t)
		saveProvider(t, st, "corp")
		must(t, st.CreateExternalUser(ctx, User{ID: "u-a", Username: "corp:a", Provider: "corp", ExternalID: "a"}, nil))
		addToken(t, st, "t-1", "u-a", KindAPI)
		yes := true
		if _, err := st.UpdateUser(ctx, "u-a", UserChange{Disabled: &yes, PasswordHash: []byte("h")}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("password of an external user: %v", err)
		}
		if u, _ := st.UserByID(ctx, "u-a"); u.Disabled {
			t.Error("disabled although the change failed")
		}
		if toks, _ := st.ListTokens(ctx, "u-a"); len(toks) != 1 {
			t.Error("tokens deleted although the change failed")
		}
	})
}

// TestUpdateUserTokens: which tokens a password change and a revocation
// delete, and that KeepToken is spared by both but not by disabling.
func TestUpdateUserTokens(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		yes := true
		tests := []struct {
			name        string
			change      UserChange
			wantDeleted []string
		}{
			{name: "password: every session", change: UserChange{PasswordHash: []byte("h2")},
				wantDeleted: []string{"s-1", "s-2"}},
			{name: "password: the sessions but the caller's", change: UserChange{PasswordHash: []byte("h2"), KeepToken: "s-1"},
				wantDeleted: []string{"s-2"}},
			{name: "password and tokens: all but the caller's", change: UserChange{PasswordHash: []byte("h2"), RevokeTokens: true, KeepToken: "s-1"},
				wantDeleted: []string{"k-1", "s-2", "t-1"}},
			{name: "tokens alone", change: UserChange{RevokeTokens: true, KeepToken: "t-1"},
				wantDeleted: []string{"k-1", "s-1", "s-2"}},
			{name: "disabling spares nothing", change: UserChange{Disabled: &yes, KeepToken: "s-1"},
				wantDeleted: []string{"k-1", "s-1", "s-2", "t-1"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				ctx := context.Background()
				st := db.open(t)
				must(t, st.CreateUser(ctx, User{ID: "u-a", Username: "alice", Provider: LocalProvider}, []byte("h")))
				must(t, st.CreateUser(ctx, User{ID: "u-b", Username: "bob", Provider: LocalProvider}, []byte("h")))
				addToken(t, st, "s-1", "u-a", KindSession)
				addToken(t, st, "s-2", "u-a", KindSession)
				addToken(t, st, "t-1", "u-a", KindAPI)
				addToken(t, st, "k-1", "u-a", KindKubeconfig)
				addToken(t, st, "s-b", "u-b", KindSession)
				deleted, err := st.UpdateUser(ctx, "u-a", tc.change)
				must(t, err)
				if diff := cmp.Diff(tc.wantDeleted, deleted); diff != "" {
					t.Errorf("deleted (-want +got):\n%s", diff)
				}
				for _, id := range tc.wantDeleted {
					if _, err := st.Token(ctx, id); !errors.Is(err, ErrNotFound) {
						t.Errorf("token %s still there: %v", id, err)
					}
				}
				if toks, _ := st.ListTokens(ctx, "u-b"); len(toks) != 1 {
					t.Errorf("another user's tokens changed: %v", toks)
				}
			})
		}
		if _, err := db.open(t).UpdateUser(context.Background(), "u-none", UserChange{RevokeTokens: true}); !errors.Is(err, ErrNotFound) {
			t.Errorf("revoking the tokens of no user: %v, want ErrNotFound", err)
		}
	})
}

// TestMigrateLogin: external users created before the login column get it
// from their username.
func TestMigrateLogin(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	must(t, err)
	n := 6 // the schema before the login column
	for _, m := range sqliteMigrations[:n] {
		_, err := db.ExecContext(ctx, m)
		must(t, err)
	}
	_, err = db.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d;
		INSERT INTO users (id, username, password_hash, created_at, provider, external_id) VALUES
		('u-a', 'corp:Alice', x'', 1, 'corp', 'dn-a'), ('u-b', 'root', x'00', 1, 'local', '')`, n))
	must(t, err)
	db.Close()
	st, err := Open(ctx, path)
	must(t, err)
	defer st.Close()
	for id, want := range map[string]string{"u-a": "Alice", "u-b": ""} {
		if u, err := st.UserByID(ctx, id); err != nil || u.Login != want {
			t.Errorf("%s: login %q, %v; want %q", id, u.Login, err, want)
		}
	}
}

// TestMigrateRevokesTokensMintedThroughScoped: unscoped API tokens that a
// cluster-scoped token of the same user could have minted (created at or
// after it) are revoked; everything else stays.
func TestMigrateRevokesTokensMintedThroughScoped(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	must(t, err)
	n := migrationsBefore(t, "ALTER TABLE tokens ADD COLUMN parent_id")
	for _, m := range sqliteMigrations[:n] {
		_, err := db.ExecContext(ctx, m)
		must(t, err)
	}
	_, err = db.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d;
		INSERT INTO users (id, username, password_hash, created_at) VALUES ('u-a', 'ada', x'00', 1), ('u-b', 'bob', x'00', 1);
		INSERT INTO clusters (id, name, created_at) VALUES ('c-1', 'one', 1);
		INSERT INTO tokens (id, user_id, kind, cluster_id, salt, hash, created_at, expires_at) VALUES
		  ('t-api-before', 'u-a', 'api', '', x'00', x'00', 10, 0),
		  ('t-kube',       'u-a', 'kubeconfig', 'c-1', x'00', x'00', 20, 0),
		  ('t-api-same',   'u-a', 'api', '', x'00', x'00', 20, 0),
		  ('t-api-after',  'u-a', 'api', '', x'00', x'00', 30, 0),
		  ('t-scoped-api', 'u-a', 'api', 'c-1', x'00', x'00', 40, 0),
		  ('t-session',    'u-a', 'session', '', x'00', x'00', 50, 0),
		  ('t-bob-api',    'u-b', 'api', '', x'00', x'00', 30, 0)`, n))
	must(t, err)
	db.Close()
	st, err := Open(ctx, path)
	must(t, err)
	defer st.Close()
	var got []string
	for _, u := range []string{"u-a", "u-b"} {
		toks, err := st.ListTokens(ctx, u)
		must(t, err)
		for _, tk := range toks {
			got = append(got, tk.ID)
		}
	}
	want := []string{"t-session", "t-scoped-api", "t-kube", "t-api-before", "t-bob-api"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tokens after the migration (-want +got):\n%s", diff)
	}
}
