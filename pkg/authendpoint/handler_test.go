package authendpoint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/ids"
	"github.com/drover-dev/drover/pkg/token"
)

// secretMap is an in-memory stand-in for the informer's lister.
type secretMap map[string]*corev1.Secret

func (m secretMap) Get(name string) (*corev1.Secret, error) {
	if s, ok := m[name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

func tokenSecret(t *testing.T, tok token.Token, user string, groups []string, exp time.Time) *corev1.Secret {
	h, err := token.Hash(tok)
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: downstream.TokenSecretPrefix + tok.ID},
		Data: map[string][]byte{
			downstream.TokenKeyID: []byte(tok.ID), downstream.TokenKeySalt: h.Salt, downstream.TokenKeyHash: h.Hash,
			downstream.TokenKeyUsername: []byte(user), downstream.TokenKeyUID: []byte("u-" + user),
			downstream.TokenKeyGroups:    []byte(strings.Join(groups, "\n")),
			downstream.TokenKeyExpiresAt: []byte(exp.UTC().Format(time.RFC3339)),
		},
	}
}

func TestReview(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	good, _ := token.New(ids.Token)
	expired, _ := token.New(ids.Token)
	other, _ := token.New(ids.Token)
	swapped, _ := token.New(ids.Token)
	secrets := secretMap{}
	for _, s := range []*corev1.Secret{
		tokenSecret(t, good, "alice", []string{"drover:admins", "ldap:devs"}, now.Add(time.Hour)),
		tokenSecret(t, expired, "alice", nil, now.Add(-time.Second)),
	} {
		secrets[s.Name] = s
	}
	// A Secret stored under one token's name but describing another.
	sw := tokenSecret(t, other, "mallory", nil, now.Add(time.Hour))
	secrets[downstream.TokenSecretPrefix+swapped.ID] = sw

	h := NewHandler(Options{Secrets: secrets, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
	tests := []struct {
		name string
		raw  string
		want authenticationv1.TokenReviewStatus
	}{
		{"valid", good.String(), authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{
			Username: "alice", UID: "u-alice", Groups: []string{"drover:admins", "ldap:devs"},
			Extra: map[string]authenticationv1.ExtraValue{downstream.ExtraTokenID: {good.ID}, downstream.ExtraUserID: {"u-alice"}},
		}}},
		{"wrong secret", good.ID + ":" + other.Secret, refused},
		{"expired", expired.String(), refused},
		{"unknown", other.String(), refused},
		{"secret of another token", swapped.String(), refused},
		{"malformed", "Bearer x", refused},
		{"empty", "", refused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, _ := json.Marshal(authenticationv1.TokenReview{
				TypeMeta: metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "TokenReview"},
				Spec:     authenticationv1.TokenReviewSpec{Token: tc.raw},
			})
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v1/authenticate", bytes.NewReader(body)))
			if w.Code != 200 {
				t.Fatalf("code %d", w.Code)
			}
			var got authenticationv1.TokenReview
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.Status); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			if got.APIVersion != "authentication.k8s.io/v1" || got.Kind != "TokenReview" {
				t.Errorf("answer is %s %s", got.APIVersion, got.Kind)
			}
			if strings.Contains(w.Body.String(), good.Secret) {
				t.Error("the answer contains the secret")
			}
		})
	}
}

var refused = authenticationv1.TokenReviewStatus{Authenticated: false, Error: "invalid or expired Drover token"}

func FuzzServeHTTP(f *testing.F) {
	tok, _ := token.New(ids.Token)
	f.Add([]byte(fmt.Sprintf(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":%q}}`, tok.String())))
	f.Add([]byte(`{"spec":{"token":null}}`))
	f.Add([]byte(`[]`))
	h := NewHandler(Options{Secrets: secretMap{}, Logger: slog.New(slog.DiscardHandler)})
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v1/authenticate", bytes.NewReader(body)))
		if w.Code == 200 && strings.Contains(w.Body.String(), `"authenticated":true`) {
			t.Fatalf("authenticated with no secrets at all: %s", body)
		}
	})
}
