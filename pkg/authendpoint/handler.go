package authendpoint

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/token"
)

// Secrets finds a token Secret by name in cattle-system.
type Secrets interface {
	Get(name string) (*corev1.Secret, error)
}

// Options configure the handler.
type Options struct {
	Secrets Secrets
	Logger  *slog.Logger
	Now     func() time.Time
}

// Handler answers TokenReview requests.
type Handler struct{ opts Options }

// NewHandler returns a Handler.
func NewHandler(opts Options) *Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Handler{opts: opts}
}

const maxReview = 64 << 10

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST a TokenReview", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReview+1))
	if err != nil || len(body) > maxReview {
		http.Error(w, "TokenReview too large or unreadable", http.StatusBadRequest)
		return
	}
	var review authenticationv1.TokenReview
	if err := json.Unmarshal(body, &review); err != nil {
		http.Error(w, "body is not a TokenReview", http.StatusBadRequest)
		return
	}
	out := authenticationv1.TokenReview{
		TypeMeta: review.TypeMeta,
		Status:   h.review(review.Spec.Token),
	}
	if out.APIVersion == "" {
		out.APIVersion, out.Kind = "authentication.k8s.io/v1", "TokenReview"
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// review checks one token. The reason for a refusal goes to the log; the
// apiserver only learns "not authenticated".
func (h *Handler) review(raw string) authenticationv1.TokenReviewStatus {
	user, err := h.authenticate(raw)
	if err != nil {
		h.opts.Logger.Info("token review refused", "err", err)
		return authenticationv1.TokenReviewStatus{Authenticated: false, Error: "invalid or expired Drover token"}
	}
	return authenticationv1.TokenReviewStatus{Authenticated: true, User: user}
}

func (h *Handler) authenticate(raw string) (authenticationv1.UserInfo, error) {
	tok, err := token.Parse(raw)
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	s, err := h.opts.Secrets.Get(downstream.TokenSecretPrefix + tok.ID)
	if err != nil {
		return authenticationv1.UserInfo{}, fmt.Errorf("token %s: %w", tok.ID, err)
	}
	d := s.Data
	if string(d[downstream.TokenKeyID]) != tok.ID {
		return authenticationv1.UserInfo{}, fmt.Errorf("token %s: secret %s names another token", tok.ID, s.Name)
	}
	if !token.Verify(tok, token.Hashed{Salt: d[downstream.TokenKeySalt], Hash: d[downstream.TokenKeyHash]}) {
		return authenticationv1.UserInfo{}, fmt.Errorf("token %s: wrong secret", tok.ID)
	}
	exp, err := time.Parse(time.RFC3339, string(d[downstream.TokenKeyExpiresAt]))
	if err != nil {
		return authenticationv1.UserInfo{}, fmt.Errorf("token %s: unreadable expiry", tok.ID)
	}
	if !h.opts.Now().Before(exp) {
		return authenticationv1.UserInfo{}, fmt.Errorf("token %s expired", tok.ID)
	}
	username := string(d[downstream.TokenKeyUsername])
	if username == "" {
		return authenticationv1.UserInfo{}, fmt.Errorf("token %s: no user", tok.ID)
	}
	var groups []string
	for _, g := range strings.Split(string(d[downstream.TokenKeyGroups]), "\n") {
		if g = strings.TrimSpace(g); g != "" {
			groups = append(groups, g)
		}
	}
	return authenticationv1.UserInfo{
		Username: username,
		UID:      string(d[downstream.TokenKeyUID]),
		Groups:   groups,
		Extra: map[string]authenticationv1.ExtraValue{
			downstream.ExtraTokenID: {tok.ID},
			downstream.ExtraUserID:  {string(d[downstream.TokenKeyUID])},
		},
	}, nil
}
