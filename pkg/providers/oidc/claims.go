package oidc

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/drover-dev/drover/pkg/providers"
)

// claims are an ID token's or userinfo's claims, each still JSON.
type claims map[string]json.RawMessage

// parseGroups reads a groups claim: absent or null is no groups; a string
// is one group; a list must hold strings only.
func parseGroups(raw json.RawMessage) ([]string, error) {
	raw = trimJSON(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []string{s}, nil
	case '[':
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, err
		}
		out := make([]string, 0, len(list))
		for i, item := range list {
			var s string
			item = trimJSON(item)
			if len(item) == 0 || item[0] != '"' {
				return nil, fmt.Errorf("item %d is not a string", i)
			}
			if err := json.Unmarshal(item, &s); err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("neither a string nor a list of strings")
}

// trimJSON trims JSON's whitespace (RFC 8259), no more.
func trimJSON(b []byte) []byte { return bytes.Trim(b, " \t\r\n") }

// stringClaim returns a claim that must be a string; absent is "".
func (c claims) stringClaim(name string) (string, error) {
	raw, ok := c[name]
	if !ok || bytes.Equal(trimJSON(raw), []byte("null")) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("claim %q is not a string", name)
	}
	return s, nil
}

// emailVerified reads email_verified as a boolean, or as the strings "true"
// and "false" that some issuers send.
func (c claims) emailVerified() bool {
	var b bool
	if json.Unmarshal(c["email_verified"], &b) == nil {
		return b
	}
	var s string
	return json.Unmarshal(c["email_verified"], &s) == nil && s == "true"
}

// principal maps claims to a Principal for subject sub; dropped counts the
// groups left out as unusable (see providers.Groups).
func principal(cfg Config, sub string, c claims) (_ providers.Principal, dropped int, err error) {
	if sub == "" {
		return providers.Principal{}, 0, fmt.Errorf("oidc %s: token has no subject", cfg.Name)
	}
	username, err := c.stringClaim(cfg.UsernameClaim)
	if err != nil {
		return providers.Principal{}, 0, fmt.Errorf("oidc %s: subject %q: %w", cfg.Name, sub, err)
	}
	if username == "" {
		return providers.Principal{}, 0, fmt.Errorf("oidc %s: subject %q: no %q claim to name the user by", cfg.Name, sub, cfg.UsernameClaim)
	}
	if err := providers.CheckUsername(username); err != nil {
		return providers.Principal{}, 0, fmt.Errorf("oidc %s: subject %q: claim %q: %w", cfg.Name, sub, cfg.UsernameClaim, err)
	}
	if cfg.UsernameClaim == "email" && !cfg.InsecureSkipEmailVerified && !c.emailVerified() {
		return providers.Principal{}, 0, providers.InvalidCredentials("oidc %s: email %q is not verified", cfg.Name, username)
	}
	names, err := parseGroups(c[cfg.GroupsClaim])
	if err != nil {
		return providers.Principal{}, 0, fmt.Errorf("oidc %s: subject %q: claim %q: %w", cfg.Name, sub, cfg.GroupsClaim, err)
	}
	groups, dropped, err := providers.Groups(cfg.Name, names)
	if err != nil {
		return providers.Principal{}, 0, fmt.Errorf("oidc %s: subject %q: %w", cfg.Name, sub, err)
	}
	display, _ := c.stringClaim("name")
	return providers.Principal{Provider: cfg.Name, ID: sub, Username: username, DisplayName: display, Groups: groups}, dropped, nil
}
