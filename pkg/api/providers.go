package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/drover-dev/drover/pkg/access"
	"github.com/drover-dev/drover/pkg/apierr"
	"github.com/drover-dev/drover/pkg/audit"
	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/pkg/providers/registry"
	"github.com/drover-dev/drover/pkg/store"
)

// ProviderSource gives the API the configured auth providers;
// *registry.Registry is one.
type ProviderSource interface {
	// Configurations (errors about the request are *registry.ConfigError).
	Save(ctx context.Context, name, typ string, config []byte, opts registry.SaveOptions) (registry.Info, error)
	Info(ctx context.Context, name string) (registry.Info, error)
	List(ctx context.Context) ([]registry.Info, error)
	Summaries(ctx context.Context) ([]registry.Summary, error)
	Delete(ctx context.Context, name string) (disabledUsers int, err error)

	// Logins.
	PasswordProvider(ctx context.Context, name string) (providers.PasswordProvider, error)
	Begin(ctx context.Context, name string, cli *registry.CLILogin) (registry.Begun, error)
	Finish(ctx context.Context, name string, callback url.Values, claim string) (providers.Principal, *registry.CLILogin, error)
	// Logins of the drover command (see registry.CLILogin).
	Start(name, claim string) (authURL string, err error)
	HandOff(userID string, cli registry.CLILogin) (code string, err error)
	Redeem(code, verifier string) (userID string, err error)
	Record(ctx context.Context, p providers.Principal) (u store.User, changed bool, err error)

	// Refresh re-reads a user from its provider now.
	Refresh(ctx context.Context, userID string) (registry.RefreshResult, error)
}

// providerTimeout bounds a login's conversation with an identity provider.
const providerTimeout = 30 * time.Second

// providerPublicRoutes registers the login routes of auth providers.
func (a *API) providerPublicRoutes(r *mux.Router) {
	r.HandleFunc("/v3/login/providers", a.listLoginProviders).Methods(http.MethodGet)
	r.HandleFunc("/v3/login/{provider}/begin", a.beginLogin).Methods(http.MethodPost)
	r.HandleFunc("/v3/login/{provider}/callback", a.finishLogin).Methods(http.MethodGet)
	r.HandleFunc("/v3/login/{provider}/browser", a.startCLILogin).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/v3/login/exchange", a.exchangeCLILogin).Methods(http.MethodPost)
}

// providerRoutes registers provider configuration and user administration.
func (a *API) providerRoutes(r *access.Routes) {
	r.Handle(http.MethodGet, "/v3/auth-providers", access.Unscoped, a.admin(a.listAuthProviders))
	r.Handle(http.MethodGet, "/v3/auth-providers/{name}", access.Unscoped, a.admin(a.getAuthProvider))
	r.Handle(http.MethodPut, "/v3/auth-providers/{name}", access.Unscoped, a.admin(a.putAuthProvider))
	r.Handle(http.MethodDelete, "/v3/auth-providers/{name}", access.Unscoped, a.admin(a.deleteAuthProvider))
	a.userRoutes(r)
}

// noProviders answers when the server runs without configurable providers.
func (a *API) noProviders(w http.ResponseWriter) bool {
	if a.opts.Providers != nil {
		return false
	}
	apierr.Unavailable(w, "this server has no auth provider support; only local users can log in")
	return true
}

// providerError answers an error of the provider source.
func (a *API) providerError(w http.ResponseWriter, name string, err error) {
	var cfg *registry.ConfigError
	switch {
	case errors.As(err, &cfg):
		apierr.Invalid(w, "auth provider %q: %s", name, cfg.Error())
	case errors.Is(err, registry.ErrNotFound), errors.Is(err, store.ErrNotFound):
		apierr.NotFound(w, "auth provider %q not found; GET /v3/auth-providers lists them", name)
	default:
		a.opts.Logger.Error("auth provider", "provider", name, "err", err)
		apierr.Internal(w)
	}
}

func (a *API) listAuthProviders(w http.ResponseWriter, r *http.Request) {
	if a.noProviders(w) {
		return
	}
	items, err := a.opts.Providers.List(r.Context())
	if err != nil {
		a.providerError(w, "", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": nonNil(items)})
}

func (a *API) getAuthProvider(w http.ResponseWriter, r *http.Request) {
	if a.noProviders(w) {
		return
	}
	name := mux.Vars(r)["name"]
	info, err := a.opts.Providers.Info(r.Context(), name)
	if err != nil {
		a.providerError(w, name, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

type putProviderRequest struct {
	Type   string          `json:"type"`
	Config json.RawMessage `json:"config"`
	// ClearSecrets names secret fields (bindPassword, clientSecret) to
	// remove; a secret left out of Config is otherwise kept, unless the
	// type or the endpoint changed.
	ClearSecrets []string `json:"clearSecrets,omitempty"`
}

func (a *API) putAuthProvider(w http.ResponseWriter, r *http.Request) {
	if a.noProviders(w) {
		return
	}
	name := mux.Vars(r)["name"]
	var req putProviderRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Type == "" {
		apierr.Invalid(w, "type is required: ldap, oidc or github")
		return
	}
	info, err := a.opts.Providers.Save(r.Context(), name, req.Type, req.Config, registry.SaveOptions{ClearSecrets: req.ClearSecrets})
	if err != nil {
		a.providerError(w, name, err)
		return
	}
	a.opts.Logger.Info("auth provider saved", "provider", name, "type", req.Type, "cleared_secrets", req.ClearSecrets,
		"by", identity(r.Context()).Username)
	writeJSON(w, http.StatusOK, info)
}

func (a *API) deleteAuthProvider(w http.ResponseWriter, r *http.Request) {
	if a.noProviders(w) {
		return
	}
	name := mux.Vars(r)["name"]
	n, err := a.opts.Providers.Delete(r.Context(), name)
	if err != nil {
		a.providerError(w, name, err)
		return
	}
	a.opts.Logger.Info("auth provider deleted", "provider", name, "disabled_users", n, "by", identity(r.Context()).Username)
	writeJSON(w, http.StatusOK, map[string]any{"name": name, "disabledUsers": n})
}

// listLoginProviders tells a login page or CLI which providers exist: names
// and types only.
func (a *API) listLoginProviders(w http.ResponseWriter, r *http.Request) {
	items := []registry.Summary{{Name: registry.LocalName, Type: registry.LocalName}}
	if a.opts.Providers != nil {
		more, err := a.opts.Providers.Summaries(r.Context())
		if err != nil {
			a.providerError(w, "", err)
			return
		}
		items = append(items, more...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

type beginResponse struct {
	AuthURL string `json:"authUrl"`
	State   string `json:"state"`
	// Claim must come back with the callback, in header ClaimHeader, unless
	// the browser that called begin carries it in cookie ClaimCookie.
	Claim string `json:"claim"`
}

// The claim of a redirect login (see registry.Begun): a browser keeps it in
// an HttpOnly cookie scoped to the login paths; an API client sends it back
// in a header.
const (
	ClaimCookie = "drover_login_claim"
	ClaimHeader = "X-Drover-Login-Claim"
)

// beginRequest is begin's optional body: a login of the drover command
// (registry.CLILogin).
type beginRequest struct {
	CLIRedirect   string `json:"cliRedirect"`
	CodeChallenge string `json:"codeChallenge"`
	// Session "cookie": the console begins the login, and the callback
	// answers with its session cookie and a redirect to it (console.go).
	Session string `json:"session,omitempty"`
}

// beginLogin starts a redirect login (OIDC, GitHub).
func (a *API) beginLogin(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["provider"]
	if a.noProviders(w) || !a.allowAddress(w, r, "") {
		return
	}
	var req beginRequest
	if !decode(w, r, &req) {
		return
	}
	how, ok := deliveryOf(w, r, req.Session)
	if !ok {
		return
	}
	var cli *registry.CLILogin
	if req.CLIRedirect != "" || req.CodeChallenge != "" {
		if how != deliverToken {
			apierr.BadRequest(w, "a login for the drover command (cliRedirect, codeChallenge) cannot ask for the console's session cookie")
			return
		}
		cli = &registry.CLILogin{Redirect: req.CLIRedirect, Challenge: req.CodeChallenge}
	}
	ctx, cancel := context.WithTimeout(r.Context(), providerTimeout)
	defer cancel()
	b, err := a.opts.Providers.Begin(ctx, name, cli)
	switch {
	case err == nil && cli != nil:
		// The person's browser starts at /browser, which gives it the
		// claim; the command keeps nothing but its verifier.
		writeJSON(w, http.StatusOK, map[string]string{"browserUrl": strings.TrimRight(a.opts.ServerURL, "/") +
			"/v3/login/" + url.PathEscape(name) + "/browser?" + url.Values{"claim": {b.Claim}}.Encode()})
	case err == nil:
		http.SetCookie(w, &http.Cookie{Name: ClaimCookie, Value: b.Claim, Path: "/v3/login/", MaxAge: 600,
			HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
		if how != deliverToken {
			markConsoleLogin(w)
		}
		writeJSON(w, http.StatusOK, beginResponse{AuthURL: b.AuthURL, State: b.State, Claim: b.Claim})
	case errors.Is(err, registry.ErrCLILogin):
		apierr.Invalid(w, "%s", strings.TrimPrefix(err.Error(), registry.ErrCLILogin.Error()+": "))
	case errors.Is(err, registry.ErrNotFound):
		apierr.NotFound(w, "auth provider %q not found; GET /v3/login/providers lists them", name)
	case errors.Is(err, registry.ErrWrongFlow):
		apierr.BadRequest(w, "auth provider %q takes a username and password: POST /v3/login with \"provider\": %q", name, name)
	default:
		a.opts.Logger.Error("begin login", "provider", name, "err", err)
		apierr.Unavailable(w, "identity provider %q is not answering; try again later", name)
	}
}

// finishLogin is the redirect URI: it completes the login and answers the
// session token like POST /v3/login.
func (a *API) finishLogin(w http.ResponseWriter, r *http.Request) {
	how := deliverToken
	if consoleLogin(w, r) {
		// A refusal lands the person on the console's login page with
		// its message.
		how = deliverCookieRedirect
		f := &failureRedirect{ResponseWriter: w}
		defer f.finish(r)
		w = f
	}
	name := mux.Vars(r)["provider"]
	audit.SetUser(r.Context(), name+":")
	if !a.allowAddress(w, r, "") {
		return
	}
	if a.opts.Providers == nil {
		a.loginFailed(w, r, name, "", errors.New("no auth provider support"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), providerTimeout)
	defer cancel()
	claim := r.Header.Get(ClaimHeader)
	if c, err := r.Cookie(ClaimCookie); claim == "" && err == nil {
		claim = c.Value
	}
	// The claim is single-use like the state: the browser drops it.
	http.SetCookie(w, &http.Cookie{Name: ClaimCookie, Path: "/v3/login/", MaxAge: -1, HttpOnly: true, Secure: true,
		SameSite: http.SameSiteLaxMode})
	p, cli, err := a.opts.Providers.Finish(ctx, name, r.URL.Query(), claim)
	if errors.Is(err, registry.ErrTooManyPending) {
		a.opts.Logger.Warn("redirect login refused: too many finished logins remembered", "provider", name)
		apierr.TooManyRequests(w, time.Minute, "too many logins finishing; try again in a minute")
		return
	}
	if err != nil {
		a.loginFailed(w, r, name, "", err)
		return
	}
	audit.SetUser(r.Context(), name+":"+p.Username)
	u, ok := a.recordLogin(w, r, p)
	if !ok {
		return
	}
	if cli == nil {
		a.startSession(w, r, u, how)
		return
	}
	a.handOff(w, r, u, *cli)
}
