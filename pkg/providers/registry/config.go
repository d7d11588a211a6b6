package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/drover-dev/drover/pkg/providers"
	"github.com/drover-dev/drover/pkg/providers/github"
	"github.com/drover-dev/drover/pkg/providers/ldap"
	"github.com/drover-dev/drover/pkg/providers/oidc"
	"github.com/drover-dev/drover/pkg/request"
)

// Type is a kind of provider: how to build one from its JSON configuration.
type Type struct {
	// Secrets are the configuration's secret fields (JSON names): never
	// shown, kept from the stored configuration when a Save leaves them
	// out, unless Endpoint changed.
	Secrets []string
	// Endpoint are the fields that say where the secrets go and how that
	// peer is recognised (URL, TLS settings, CA): when a Save changes one,
	// stored secrets are not carried over; the client sends them again or
	// clears them (SaveOptions.ClearSecrets).
	Endpoint []string
	// Durations are fields holding a time.Duration: Save also accepts
	// them as strings ("10s"), views show them so.
	Durations []string
	// URLs are fields holding a URL: views show them without userinfo,
	// query and fragment (request.RedactURL).
	URLs []string
	// Build decodes config, which must name the provider name or no name
	// at all, and returns the provider with the configuration to store
	// (canonical JSON). Problems with config are *ConfigError.
	Build func(name string, config []byte, logger *slog.Logger) (providers.Provider, []byte, error)
}

// Provider types.
const (
	TypeLDAP   = "ldap"
	TypeOIDC   = "oidc"
	TypeGitHub = "github"
)

// DefaultTypes are the provider types Drover ships.
func DefaultTypes() map[string]Type {
	return map[string]Type{
		TypeLDAP: {Secrets: []string{"bindPassword"}, Durations: []string{"timeout"}, URLs: []string{"url"},
			Endpoint: []string{"url", "startTLS", "insecureNoTLS", "caData", "serverName"},
			Build:    Builder(func(c *ldap.Config) *string { return &c.Name }, ldap.New)},
		TypeOIDC: {Secrets: []string{"clientSecret"}, Durations: []string{"timeout"}, URLs: []string{"issuerURL", "redirectURL"},
			Endpoint: []string{"issuerURL", "caData"},
			Build:    Builder(func(c *oidc.Config) *string { return &c.Name }, oidc.New)},
		TypeGitHub: {Secrets: []string{"clientSecret"}, Durations: []string{"timeout"}, URLs: []string{"baseURL", "redirectURL"},
			Endpoint: []string{"baseURL", "caData"},
			Build:    Builder(func(c *github.Config) *string { return &c.Name }, github.New)},
	}
}

// ConfigError is a problem with a configuration a client sent; its message
// names the field and is safe to show (it never holds a secret's value).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configErrorf(format string, args ...any) error {
	return &ConfigError{Err: fmt.Errorf(format, args...)}
}

// Builder returns a Type.Build for a provider package: C is its Config
// (with a Validate method), name points at the Config's Name field, and
// newProvider is its New.
func Builder[C interface{ Validate() error }, P providers.Provider](name func(*C) *string,
	newProvider func(C, *slog.Logger) (P, error)) func(string, []byte, *slog.Logger) (providers.Provider, []byte, error) {
	return func(providerName string, config []byte, logger *slog.Logger) (providers.Provider, []byte, error) {
		var c C
		if err := decodeStrict(config, &c); err != nil {
			return nil, nil, err
		}
		switch n := name(&c); *n {
		case "", providerName:
			*n = providerName
		default:
			return nil, nil, configErrorf("config.name %q must be left out or equal the provider's name %q", *n, providerName)
		}
		if err := c.Validate(); err != nil {
			return nil, nil, &ConfigError{Err: fmt.Errorf("config: %w", err)}
		}
		p, err := newProvider(c, logger)
		if err != nil {
			return nil, nil, &ConfigError{Err: fmt.Errorf("config: %w", err)}
		}
		canonical, err := json.Marshal(c)
		if err != nil {
			return nil, nil, fmt.Errorf("encode %s config: %w", providerName, err)
		}
		return p, canonical, nil
	}
}

// decodeStrict decodes one JSON object into v, refusing unknown fields and
// trailing data. Errors name the field, never a value.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); !errors.Is(extra, io.EOF) {
			return configErrorf("config: unexpected data after the JSON object")
		}
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return configErrorf("config is not valid JSON (at byte %d)", syn.Offset)
	case errors.As(err, &typ):
		return configErrorf("config.%s must be a %s", typ.Field, typ.Type)
	}
	// The unknown-field error names only the field.
	return configErrorf("config: %v", err)
}

// prepare turns what a client sent into what Build decodes: an object,
// durations given as strings converted to nanoseconds, secret fields named
// in clear removed, and secret fields the client left out (or sent empty)
// taken from the stored configuration prev (nil when there is none) when
// it is of the same type (sameType) and the endpoint fields are unchanged.
// When the type or the endpoint changed, a secret the stored configuration
// holds is not carried over: leaving it out is a *ConfigError (send it
// again, or clear it), so that a secret never follows an edited URL to
// another server.
func prepare(t Type, config, prev []byte, sameType bool, clear []string) ([]byte, error) {
	var m map[string]json.RawMessage
	if len(bytes.TrimSpace(config)) == 0 {
		config = []byte("{}")
	}
	if err := json.Unmarshal(config, &m); err != nil || m == nil {
		return nil, configErrorf("config must be a JSON object")
	}
	for _, f := range t.Durations {
		raw, ok := m[f]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			continue // a number (nanoseconds) or a type error Build reports
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, configErrorf("config.%s %q must be a duration such as \"10s\"", f, s)
		}
		m[f], _ = json.Marshal(int64(d))
	}
	for _, f := range clear {
		if !slices.Contains(t.Secrets, f) {
			return nil, configErrorf("clearSecrets: %q is not a secret field of this type (%v)", f, t.Secrets)
		}
		if !omitted(m[f]) {
			return nil, configErrorf("config.%s is both sent and in clearSecrets", f)
		}
		delete(m, f)
	}
	var old map[string]json.RawMessage
	if prev != nil {
		if err := json.Unmarshal(prev, &old); err != nil {
			return nil, fmt.Errorf("decode stored config: %w", err)
		}
	}
	for _, f := range t.Secrets {
		if !omitted(m[f]) || slices.Contains(clear, f) || omitted(old[f]) {
			continue
		}
		if !sameType {
			return nil, configErrorf("config.%s: send %s again: the type changed (or clear it with \"clearSecrets\": [%q])", f, f, f)
		}
		if e := changedField(t.Endpoint, m, old); e != "" {
			return nil, configErrorf("config.%s: send %s again: the endpoint changed (%s); or clear it with \"clearSecrets\": [%q]", f, f, e, f)
		}
		m[f] = old[f]
	}
	return json.Marshal(m)
}

// omitted reports whether a field is absent, null or "".
func omitted(v json.RawMessage) bool {
	s := string(bytes.TrimSpace(v))
	return s == "" || s == "null" || s == `""`
}

// changedField returns the first of fields whose value differs between the
// configurations a and b, a field left out being its zero value (false,
// "", 0, null); "" when none does.
func changedField(fields []string, a, b map[string]json.RawMessage) string {
	value := func(raw json.RawMessage) any {
		var v any
		if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
			return nil
		}
		if v == false || v == "" || v == 0.0 {
			return nil
		}
		return v
	}
	for _, f := range fields {
		if !reflect.DeepEqual(value(a[f]), value(b[f])) {
			return f
		}
	}
	return ""
}

// Info is what may be shown of a configured provider: its configuration
// without secret values.
type Info struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Config is the stored configuration (defaults are filled in by the
	// provider when it is built, not here), secret fields removed.
	Config map[string]any `json:"config"`
	// Secrets says, for each secret field, "set" or "unset".
	Secrets   map[string]string `json:"secrets"`
	CreatedAt time.Time         `json:"createdAt"`
	UpdatedAt time.Time         `json:"updatedAt"`
}

// view makes the Info of a stored configuration.
func view(t Type, name, typ string, config []byte, created, updated time.Time) (Info, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return Info{}, fmt.Errorf("decode stored config of %q: %w", name, err)
	}
	info := Info{Name: name, Type: typ, Config: m, Secrets: map[string]string{}, CreatedAt: created, UpdatedAt: updated}
	for _, f := range t.Secrets {
		info.Secrets[f] = "unset"
		if v, ok := m[f].(string); ok && v != "" {
			info.Secrets[f] = "set"
		}
		delete(m, f)
	}
	for _, f := range t.Durations {
		if n, ok := m[f].(json.Number); ok {
			if ns, err := n.Int64(); err == nil {
				m[f] = time.Duration(ns).String()
			}
		}
	}
	for _, f := range t.URLs {
		if u, ok := m[f].(string); ok {
			m[f] = request.RedactURL(u)
		}
	}
	return info, nil
}

// typeNames lists the known types for messages.
func typeNames(types map[string]Type) []string {
	return slices.Sorted(maps.Keys(types))
}
