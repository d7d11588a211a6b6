package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/pkg/request"
)

// Provider is an OpenID Connect RedirectProvider.
type Provider struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger

	mu sync.Mutex
	d  *discovered // nil until the first successful discovery
}

// discovered is what discovery yields.
type discovered struct {
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	oauth    *oauth2.Config
}

var _ providers.RedirectProvider = (*Provider)(nil)

// New validates cfg and returns a Provider. It does not contact the issuer.
func New(cfg Config, logger *slog.Logger) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("oidc provider: %w", err)
	}
	cfg = cfg.withDefaults()
	client, err := providers.HTTPClient([]byte(cfg.CAData), cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("oidc provider %s: %w", cfg.Name, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Provider{cfg: cfg, client: client, log: logger.With("provider", cfg.Name)}, nil
}

// Name implements providers.Provider.
func (p *Provider) Name() string { return p.cfg.Name }

// ctx carries the provider's HTTP client to go-oidc and x/oauth2.
func (p *Provider) ctx(ctx context.Context) context.Context {
	return context.WithValue(oidc.ClientContext(ctx, p.client), oauth2.HTTPClient, p.client)
}

// discover fetches the issuer's discovery document once it succeeds.
func (p *Provider) discover(ctx context.Context) (*discovered, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.d != nil {
		return p.d, nil
	}
	op, err := oidc.NewProvider(p.ctx(ctx), p.cfg.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("oidc %s: discovery at %s: %w", p.cfg.Name, request.RedactURL(p.cfg.IssuerURL), err)
	}
	p.d = &discovered{
		provider: op,
		verifier: op.Verifier(&oidc.Config{ClientID: p.cfg.ClientID}),
		oauth: &oauth2.Config{
			ClientID:     p.cfg.ClientID,
			ClientSecret: p.cfg.ClientSecret,
			RedirectURL:  p.cfg.RedirectURL,
			Endpoint:     op.Endpoint(),
			Scopes:       p.cfg.Scopes,
		},
	}
	return p.d, nil
}

// nonceFor derives the nonce from the PKCE verifier, under a label of its
// own so that it never equals the S256 challenge.
func nonceFor(verifier string) string {
	h := sha256.Sum256([]byte("drover oidc nonce\x00" + verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// Begin implements providers.RedirectProvider.
func (p *Provider) Begin(ctx context.Context, state string) (authURL, verifier string, err error) {
	if state == "" {
		return "", "", errors.New("oidc: Begin needs a state")
	}
	d, err := p.discover(ctx)
	if err != nil {
		return "", "", err
	}
	verifier = oauth2.GenerateVerifier()
	authURL = d.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonceFor(verifier)))
	return authURL, verifier, nil
}

// Finish implements providers.RedirectProvider.
func (p *Provider) Finish(ctx context.Context, callback url.Values, state, verifier string) (providers.Principal, error) {
	code, err := providers.ParseCallback(callback, state)
	if err != nil {
		return providers.Principal{}, fmt.Errorf("oidc %s: %w", p.cfg.Name, err)
	}
	if verifier == "" {
		return providers.Principal{}, errors.New("oidc: Finish needs the verifier from Begin")
	}
	d, err := p.discover(ctx)
	if err != nil {
		return providers.Principal{}, err
	}
	tok, err := d.oauth.Exchange(p.ctx(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return providers.Principal{}, p.tokenError("exchange the code", err, false)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return providers.Principal{}, fmt.Errorf("oidc %s: the token response has no id_token", p.cfg.Name)
	}
	idt, err := d.verifier.Verify(p.ctx(ctx), raw)
	if err != nil {
		return providers.Principal{}, fmt.Errorf("oidc %s: ID token: %w", p.cfg.Name, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonceFor(verifier))) != 1 {
		return providers.Principal{}, providers.InvalidCredentials("oidc %s: ID token nonce does not match", p.cfg.Name)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return providers.Principal{}, fmt.Errorf("oidc %s: ID token at_hash: %w", p.cfg.Name, err)
		}
	}
	var c claims
	if err := idt.Claims(&c); err != nil {
		return providers.Principal{}, fmt.Errorf("oidc %s: ID token claims: %w", p.cfg.Name, err)
	}
	pr, err := p.principal(idt.Subject, c)
	if err != nil {
		return providers.Principal{}, err
	}
	pr.RefreshToken = providers.Secret(tok.RefreshToken)
	return pr, nil
}

// Refresh implements providers.Provider with the refresh token.
func (p *Provider) Refresh(ctx context.Context, prev providers.Principal) (providers.Principal, error) {
	if prev.Provider != p.cfg.Name || prev.ID == "" {
		return providers.Principal{}, fmt.Errorf("oidc %s: cannot refresh a principal of provider %q", p.cfg.Name, prev.Provider)
	}
	if prev.RefreshToken == "" {
		return providers.Principal{}, fmt.Errorf("oidc %s: subject %q: %w", p.cfg.Name, prev.ID, providers.ErrNoRefresh)
	}
	d, err := p.discover(ctx)
	if err != nil {
		return providers.Principal{}, err
	}
	// An empty access token makes the source refresh at once.
	tok, err := d.oauth.TokenSource(p.ctx(ctx), &oauth2.Token{RefreshToken: prev.RefreshToken.Reveal()}).Token()
	if err != nil {
		return providers.Principal{}, p.tokenError("refresh", err, true)
	}
	var (
		sub string
		c   claims
	)
	if raw, _ := tok.Extra("id_token").(string); raw != "" {
		idt, err := d.verifier.Verify(p.ctx(ctx), raw)
		if err != nil {
			return providers.Principal{}, fmt.Errorf("oidc %s: refreshed ID token: %w", p.cfg.Name, err)
		}
		sub = idt.Subject
		err = idt.Claims(&c)
		if err != nil {
			return providers.Principal{}, fmt.Errorf("oidc %s: refreshed ID token claims: %w", p.cfg.Name, err)
		}
	} else {
		// No ID token on refresh (allowed by the spec): ask userinfo.
		ui, err := d.provider.UserInfo(p.ctx(ctx), oauth2.StaticTokenSource(tok))
		if err != nil {
			return providers.Principal{}, fmt.Errorf("oidc %s: userinfo: %w", p.cfg.Name, err)
		}
		sub = ui.Subject
		if err := ui.Claims(&c); err != nil {
			return providers.Principal{}, fmt.Errorf("oidc %s: userinfo claims: %w", p.cfg.Name, err)
		}
	}
	if sub != prev.ID {
		return providers.Principal{}, providers.InvalidCredentials("oidc %s: subject changed on refresh from %q to %q", p.cfg.Name, prev.ID, sub)
	}
	pr, err := p.principal(sub, c)
	if err != nil {
		return providers.Principal{}, err
	}
	pr.RefreshToken = providers.Secret(tok.RefreshToken)
	if pr.RefreshToken == "" {
		pr.RefreshToken = prev.RefreshToken // not rotated
	}
	return pr, nil
}

func (p *Provider) principal(sub string, c claims) (providers.Principal, error) {
	pr, dropped, err := principal(p.cfg, sub, c)
	if dropped > 0 {
		p.log.Warn("oidc groups left out: not usable as group names", "subject", sub, "count", dropped)
	}
	return pr, err
}

// tokenError classifies a token endpoint error. invalid_grant (a used,
// expired or forged code, a PKCE mismatch, a revoked refresh token) is the
// user's: ErrInvalidCredentials. So is, on refresh only, invalid_request
// with status 400: Dex answers so for a spent, expired or unknown refresh
// token, and a refresh request has nothing else in it that could be wrong.
// Anything else (invalid_client, a 5xx, the issuer down) is the
// configuration's or the issuer's. Only the OAuth error code is kept: the
// response body is not ours to log.
func (p *Provider) tokenError(what string, err error, refresh bool) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fmt.Errorf("oidc %s: %s: %w", p.cfg.Name, what, err)
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	code := providers.SafeCode(re.ErrorCode)
	switch {
	case re.ErrorCode == "invalid_grant",
		refresh && re.ErrorCode == "invalid_request" && status == http.StatusBadRequest:
		return providers.InvalidCredentials("oidc %s: %s: %s", p.cfg.Name, what, code)
	case re.ErrorCode != "":
		return fmt.Errorf("oidc %s: %s: token endpoint answered %s (HTTP %d)", p.cfg.Name, what, code, status)
	}
	return fmt.Errorf("oidc %s: %s: token endpoint answered HTTP %d", p.cfg.Name, what, status)
}
