package harness

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Me is GET /v3/users/me.
type Me struct {
	ID       string   `json:"id"`
	Username string   `json:"username"`
	Admin    bool     `json:"admin"`
	Groups   []string `json:"groups"`
	TokenID  string   `json:"tokenId"`
}

// User is the API's view of a user (GET /v3/users/{id}).
type User struct {
	ID          string    `json:"id"`
	Username    string    `json:"username"`
	Admin       bool      `json:"admin"`
	Provider    string    `json:"provider"`
	ExternalID  string    `json:"externalId"`
	DisplayName string    `json:"displayName"`
	Groups      []string  `json:"groups"`
	GroupsAt    time.Time `json:"groupsRefreshedAt"`
	Disabled    bool      `json:"disabled"`
}

// SaveAuthProvider configures an auth provider (PUT
// /v3/auth-providers/{name}); config is the provider package's Config.
func (s *Server) SaveAuthProvider(ctx context.Context, bearer, name, typ string, config any) error {
	return s.Do(ctx, http.MethodPut, "/v3/auth-providers/"+url.PathEscape(name), bearer,
		map[string]any{"type": typ, "config": config}, nil)
}

// DeleteAuthProvider removes an auth provider.
func (s *Server) DeleteAuthProvider(ctx context.Context, bearer, name string) error {
	return s.Do(ctx, http.MethodDelete, "/v3/auth-providers/"+url.PathEscape(name), bearer, nil, nil)
}

// LoginWith logs in at a password provider and returns the session token.
func (s *Server) LoginWith(ctx context.Context, provider, user, password string) (string, error) {
	var out struct{ Token string }
	err := s.Do(ctx, http.MethodPost, "/v3/login", "",
		map[string]string{"username": user, "password": password, "provider": provider}, &out)
	return out.Token, err
}

// Begun is a redirect login in progress: where to send the browser, the
// state, and the claim the callback must carry.
type Begun struct {
	AuthURL string `json:"authUrl"`
	State   string `json:"state"`
	Claim   string `json:"claim"`
}

// BeginLogin starts a redirect login at a provider.
func (s *Server) BeginLogin(ctx context.Context, provider string) (Begun, error) {
	var out Begun
	err := s.Do(ctx, http.MethodPost, "/v3/login/"+url.PathEscape(provider)+"/begin", "", nil, &out)
	return out, err
}

// FinishLogin plays the arrival at the callback with the query the identity
// provider redirected the browser with and the claim begin gave (empty:
// none), and returns the session token.
func (s *Server) FinishLogin(ctx context.Context, provider string, callback url.Values, claim string) (string, error) {
	var out struct{ Token string }
	h := http.Header{}
	if claim != "" {
		h.Set("X-Drover-Login-Claim", claim)
	}
	err := s.DoHeader(ctx, http.MethodGet, "/v3/login/"+url.PathEscape(provider)+"/callback?"+callback.Encode(), "", h, nil, &out)
	return out.Token, err
}

// Me returns who the bearer is.
func (s *Server) Me(ctx context.Context, bearer string) (Me, error) {
	var me Me
	err := s.Do(ctx, http.MethodGet, "/v3/users/me", bearer, nil, &me)
	return me, err
}

// GetUser reads a user (admin).
func (s *Server) GetUser(ctx context.Context, bearer, id string) (User, error) {
	var u User
	err := s.Do(ctx, http.MethodGet, "/v3/users/"+url.PathEscape(id), bearer, nil, &u)
	return u, err
}

// SetUserDisabled disables or enables a user (admin).
func (s *Server) SetUserDisabled(ctx context.Context, bearer, id string, disabled bool) error {
	return s.Do(ctx, http.MethodPut, "/v3/users/"+url.PathEscape(id), bearer, map[string]any{"disabled": disabled}, nil)
}

// RefreshUser re-reads a user from its provider now and returns the user
// and what happened ("refreshed", "unchanged", "disabled").
func (s *Server) RefreshUser(ctx context.Context, bearer, id string) (User, string, error) {
	var out struct {
		User   User   `json:"user"`
		Result string `json:"result"`
	}
	err := s.Do(ctx, http.MethodPost, "/v3/users/"+url.PathEscape(id)+"/refresh", bearer, nil, &out)
	return out.User, out.Result, err
}

// Binding is a role given to a user or group (POST /v3/bindings).
type Binding struct {
	ID          string `json:"id,omitempty"`
	Scope       string `json:"scope"`
	ClusterID   string `json:"clusterId,omitempty"`
	ProjectID   string `json:"projectId,omitempty"`
	Role        string `json:"role"`
	SubjectKind string `json:"subjectKind"`
	Subject     string `json:"subject"`
}

// CreateBinding creates a binding (admin) and returns it.
func (s *Server) CreateBinding(ctx context.Context, bearer string, b Binding) (Binding, error) {
	var out Binding
	err := s.Do(ctx, http.MethodPost, "/v3/bindings", bearer, b, &out)
	return out, err
}

// DeleteBinding removes a binding (admin).
func (s *Server) DeleteBinding(ctx context.Context, bearer, id string) error {
	return s.Do(ctx, http.MethodDelete, "/v3/bindings/"+url.PathEscape(id), bearer, nil, nil)
}
