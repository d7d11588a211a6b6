package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/oauth2"

	"github.com/drover-dev/drover/pkg/providers"
)

// Provider is a GitHub OAuth RedirectProvider.
type Provider struct {
	cfg      Config
	web, api string
	apiURL   *url.URL
	client   *http.Client
	log      *slog.Logger
}

var _ providers.RedirectProvider = (*Provider)(nil)

// Limits on what GitHub's answers may cost.
const (
	perPage  = 100
	maxPages = 20      // per list: 2000 orgs or teams
	maxBody  = 8 << 20 // per response
	// apiVersion is the REST API version the provider is written to.
	apiVersion = "2022-11-28"
)

// New validates cfg and returns a Provider. It does not contact GitHub.
func New(cfg Config, logger *slog.Logger) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("github provider: %w", err)
	}
	cfg = cfg.withDefaults()
	client, err := providers.HTTPClient([]byte(cfg.CAData), cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("github provider %s: %w", cfg.Name, err)
	}
	web, api := cfg.endpoints()
	apiURL, err := url.Parse(api)
	if err != nil {
		return nil, fmt.Errorf("github provider %s: %w", cfg.Name, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Provider{cfg: cfg, web: web, api: api, apiURL: apiURL, client: client, log: logger.With("provider", cfg.Name)}, nil
}

// Name implements providers.Provider.
func (p *Provider) Name() string { return p.cfg.Name }

// Begin implements providers.RedirectProvider.
func (p *Provider) Begin(_ context.Context, state string) (authURL, verifier string, err error) {
	if state == "" {
		return "", "", errors.New("github: Begin needs a state")
	}
	verifier = oauth2.GenerateVerifier()
	q := url.Values{
		"client_id":             {p.cfg.ClientID},
		"redirect_uri":          {p.cfg.RedirectURL},
		"scope":                 {strings.Join(p.cfg.Scopes, " ")},
		"state":                 {state},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"},
	}
	return p.web + "/login/oauth/authorize?" + q.Encode(), verifier, nil
}

// Finish implements providers.RedirectProvider.
func (p *Provider) Finish(ctx context.Context, callback url.Values, state, verifier string) (providers.Principal, error) {
	code, err := providers.ParseCallback(callback, state)
	if err != nil {
		return providers.Principal{}, fmt.Errorf("github %s: %w", p.cfg.Name, err)
	}
	if verifier == "" {
		return providers.Principal{}, errors.New("github: Finish needs the verifier from Begin")
	}
	token, err := p.exchange(ctx, code, verifier)
	if err != nil {
		return providers.Principal{}, err
	}
	pr, err := p.read(ctx, token)
	if err != nil {
		return providers.Principal{}, err
	}
	return pr, nil
}

// Refresh implements providers.Provider with the access token.
func (p *Provider) Refresh(ctx context.Context, prev providers.Principal) (providers.Principal, error) {
	if prev.Provider != p.cfg.Name || prev.ID == "" {
		return providers.Principal{}, fmt.Errorf("github %s: cannot refresh a principal of provider %q", p.cfg.Name, prev.Provider)
	}
	if prev.RefreshToken == "" {
		return providers.Principal{}, fmt.Errorf("github %s: user %s: %w", p.cfg.Name, prev.ID, providers.ErrNoRefresh)
	}
	pr, err := p.read(ctx, prev.RefreshToken.Reveal())
	if err != nil {
		return providers.Principal{}, err
	}
	if pr.ID != prev.ID {
		return providers.Principal{}, providers.InvalidCredentials("github %s: token now belongs to user %s, not %s", p.cfg.Name, pr.ID, prev.ID)
	}
	return pr, nil
}

// tokenResponse is the access_token endpoint's JSON answer: a token, or an
// error (with status 200).
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	Scope       string `json:"scope"`
	Error       string `json:"error"`
}

// exchange trades the code for an access token.
func (p *Provider) exchange(ctx context.Context, code, verifier string) (string, error) {
	form := url.Values{
		"client_id":     {p.cfg.ClientID},
		"client_secret": {p.cfg.ClientSecret},
		"code":          {code},
		"redirect_uri":  {p.cfg.RedirectURL},
		"code_verifier": {verifier},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.web+"/login/oauth/access_token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("github %s: exchange the code: %w", p.cfg.Name, err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&tr); err != nil {
		return "", fmt.Errorf("github %s: exchange the code: HTTP %d, unreadable answer", p.cfg.Name, resp.StatusCode)
	}
	switch tr.Error {
	case "":
	case "bad_verification_code", "invalid_grant", "unverified_user_email", "access_denied":
		// A used, expired or forged code, or a PKCE mismatch.
		return "", providers.InvalidCredentials("github %s: exchange the code: %s", p.cfg.Name, providers.SafeCode(tr.Error))
	default: // incorrect_client_credentials, redirect_uri_mismatch, ...
		return "", fmt.Errorf("github %s: exchange the code: %s", p.cfg.Name, providers.SafeCode(tr.Error))
	}
	if resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		return "", fmt.Errorf("github %s: exchange the code: HTTP %d without a token", p.cfg.Name, resp.StatusCode)
	}
	if !strings.EqualFold(tr.TokenType, "bearer") {
		return "", fmt.Errorf("github %s: exchange the code: token type %q", p.cfg.Name, providers.SafeCode(tr.TokenType))
	}
	return tr.AccessToken, nil
}

type user struct {
	Login string `json:"login"`
	ID    int64  `json:"id"`
	Name  string `json:"name"`
}

type org struct {
	Login string `json:"login"`
}

type team struct {
	Slug         string `json:"slug"`
	Organization org    `json:"organization"`
}

// read builds the Principal of the token's user.
func (p *Provider) read(ctx context.Context, token string) (providers.Principal, error) {
	var u user
	if _, err := p.get(ctx, token, p.api+"/user", &u); err != nil {
		return providers.Principal{}, err
	}
	if u.ID <= 0 || u.Login == "" {
		return providers.Principal{}, fmt.Errorf("github %s: /user has no id or login", p.cfg.Name)
	}
	if err := providers.CheckUsername(u.Login); err != nil {
		return providers.Principal{}, fmt.Errorf("github %s: login: %w", p.cfg.Name, err)
	}
	orgs, err := list[org](ctx, p, token, "/user/orgs")
	if err != nil {
		return providers.Principal{}, err
	}
	teams, err := list[team](ctx, p, token, "/user/teams")
	if err != nil {
		return providers.Principal{}, err
	}
	var names []string
	member := len(p.cfg.Orgs) == 0
	addOrg := func(login string) {
		names = append(names, login)
		for _, allowed := range p.cfg.Orgs {
			member = member || strings.EqualFold(login, allowed)
		}
	}
	for _, o := range orgs {
		addOrg(o.Login)
	}
	for _, t := range teams {
		// A team implies its org, even where the org membership is private.
		addOrg(t.Organization.Login)
		names = append(names, t.Organization.Login+"/"+t.Slug)
	}
	if !member {
		return providers.Principal{}, providers.InvalidCredentials("github %s: %q is in none of the allowed organizations", p.cfg.Name, u.Login)
	}
	groups, dropped, err := providers.Groups(p.cfg.Name, names)
	if err != nil {
		return providers.Principal{}, fmt.Errorf("github %s: %q: %w", p.cfg.Name, u.Login, err)
	}
	if dropped > 0 {
		p.log.Warn("github groups left out: not usable as group names", "user", u.Login, "count", dropped)
	}
	return providers.Principal{
		Provider:     p.cfg.Name,
		ID:           strconv.FormatInt(u.ID, 10),
		Username:     u.Login,
		DisplayName:  u.Name,
		Groups:       groups,
		RefreshToken: providers.Secret(token),
	}, nil
}

// list reads every page of a list endpoint.
func list[T any](ctx context.Context, p *Provider, token, path string) ([]T, error) {
	var out []T
	next := p.api + path + "?per_page=" + strconv.Itoa(perPage)
	for page := 1; next != ""; page++ {
		if page > maxPages {
			return nil, fmt.Errorf("github %s: %s has more than %d pages", p.cfg.Name, path, maxPages)
		}
		var items []T
		var err error
		if next, err = p.get(ctx, token, next, &items); err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	return out, nil
}

// get GETs an API URL into v and returns the next page's URL, if any. The
// token only ever goes to the API's origin: a next link elsewhere is an
// error.
func (p *Provider) get(ctx context.Context, token, target string, v any) (next string, err error) {
	u, err := url.Parse(target)
	if err != nil || !p.sameOrigin(u) {
		return "", fmt.Errorf("github %s: refusing to send the token to %q", p.cfg.Name, target)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-GitHub-Api-Version", apiVersion)
	req.Header.Set("User-Agent", "drover")
	resp, err := p.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("github %s: GET %s: %w", p.cfg.Name, u.Path, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return "", providers.InvalidCredentials("github %s: GET %s: token refused", p.cfg.Name, u.Path)
	case (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests) && resp.Header.Get("X-RateLimit-Remaining") == "0":
		return "", fmt.Errorf("github %s: GET %s: rate limited until %s", p.cfg.Name, u.Path, resp.Header.Get("X-RateLimit-Reset"))
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("github %s: GET %s: HTTP %d", p.cfg.Name, u.Path, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(v); err != nil {
		return "", fmt.Errorf("github %s: GET %s: %w", p.cfg.Name, u.Path, err)
	}
	next, err = nextLink(resp.Header.Values("Link"))
	if err != nil {
		return "", fmt.Errorf("github %s: GET %s: %w", p.cfg.Name, u.Path, err)
	}
	if next != "" {
		n, err := u.Parse(next) // relative links resolve against the page
		if err != nil {
			return "", fmt.Errorf("github %s: GET %s: next link: %w", p.cfg.Name, u.Path, err)
		}
		next = n.String()
	}
	return next, nil
}

// sameOrigin reports whether u is on the API's scheme and host, under its
// path.
func (p *Provider) sameOrigin(u *url.URL) bool {
	return u.Scheme == p.apiURL.Scheme && strings.EqualFold(u.Host, p.apiURL.Host) && u.User == nil &&
		(p.apiURL.Path == "" || u.Path == p.apiURL.Path || strings.HasPrefix(u.Path, p.apiURL.Path+"/"))
}
