package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/drover-dev/drover/pkg/driver/driverpb"
)

// Config is a valid cluster config: field name → string, bool, int64 or
// []string. Unset fields are absent.
type Config map[string]any

// FieldError says which field of a config is wrong, and how. Its message
// never includes the value given.
type FieldError struct {
	Field string // empty: the config as a whole
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return "config " + e.Msg
	}
	return "config." + e.Field + " " + e.Msg
}

// maxSlice bounds a string-slice field.
const maxSlice = 1000

// Validate parses a config given on create. Fields must be known, of their
// type and settable on create; null leaves a field unset.
func (s Schema) Validate(raw json.RawMessage) (Config, error) {
	return s.merge(nil, raw, true)
}

// Update applies a config patch given on update to old: the fields given
// replace old ones (null unsets), the rest stay. A field that may not be
// updated may only be repeated with its current value.
func (s Schema) Update(old Config, raw json.RawMessage) (Config, error) {
	return s.merge(old, raw, false)
}

func (s Schema) merge(old Config, raw json.RawMessage, create bool) (Config, error) {
	in, err := object(raw)
	if err != nil {
		return nil, err
	}
	out := maps.Clone(old)
	if out == nil {
		out = Config{}
	}
	keys := slices.Sorted(maps.Keys(in))
	for _, k := range keys {
		f, ok := s.Fields[k]
		if !ok {
			return nil, &FieldError{Field: k, Msg: fmt.Sprintf("is not a field of the %q driver's config (it has: %s)",
				s.Driver, strings.Join(s.Names(), ", "))}
		}
		v, set, err := parse(f, in[k])
		if err != nil {
			return nil, &FieldError{Field: k, Msg: err.Error()}
		}
		switch {
		case create && !f.Create:
			return nil, &FieldError{Field: k, Msg: "can only be set on update"}
		case !create && !f.Update:
			if prev, had := out[k]; set != had || (set && !equal(prev, v)) {
				return nil, &FieldError{Field: k, Msg: "cannot be changed after the cluster was created"}
			}
		}
		if set {
			out[k] = v
		} else {
			delete(out, k)
		}
	}
	return out, nil
}

func object(raw json.RawMessage) (map[string]json.RawMessage, error) {
	in := map[string]json.RawMessage{}
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return in, nil
	}
	if t[0] != '{' {
		return nil, &FieldError{Msg: "must be a JSON object"}
	}
	if err := json.Unmarshal(t, &in); err != nil {
		return nil, &FieldError{Msg: "is not a valid JSON object"}
	}
	return in, nil
}

// parse returns the value of raw for f; set is false for null.
func parse(f Field, raw json.RawMessage) (v any, set bool, err error) {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, false, fmt.Errorf("must be a %s", describe(f.Type))
	}
	switch f.Type {
	case TypeString:
		if s, ok := x.(string); ok {
			return s, true, nil
		}
	case TypeBoolean:
		if b, ok := x.(bool); ok {
			return b, true, nil
		}
	case TypeInt:
		if n, ok := x.(json.Number); ok {
			i, err := n.Int64()
			if err != nil {
				return nil, false, errors.New("must be a whole number that fits in 64 bits")
			}
			return i, true, nil
		}
	case TypeStringSlice:
		if a, ok := x.([]any); ok {
			if len(a) > maxSlice {
				return nil, false, fmt.Errorf("has more than %d items", maxSlice)
			}
			out := make([]string, 0, len(a))
			for _, e := range a {
				s, ok := e.(string)
				if !ok {
					return nil, false, errors.New("must be an array of strings")
				}
				out = append(out, s)
			}
			return out, true, nil
		}
	}
	return nil, false, fmt.Errorf("must be a %s", describe(f.Type))
}

func describe(t string) string {
	switch t {
	case TypeBoolean:
		return "boolean"
	case TypeInt:
		return "whole number"
	case TypeStringSlice:
		return "array of strings"
	}
	return t
}

func equal(a, b any) bool {
	as, aok := a.([]string)
	bs, bok := b.([]string)
	if aok || bok {
		return aok && bok && slices.Equal(as, bs)
	}
	return a == b
}

// Options turns a valid config into what the driver receives: every field
// that is set, and the default of every unset field that is not nullable,
// each under its flag name and, when that differs, its field name. With
// create, fields that can only be set on update are left out.
func (s Schema) Options(c Config, create bool) *driverpb.DriverOptions {
	o := &driverpb.DriverOptions{
		BoolOptions: map[string]bool{}, StringOptions: map[string]string{},
		IntOptions: map[string]int64{}, StringSliceOptions: map[string]*driverpb.StringSlice{},
	}
	for _, name := range s.Names() {
		f := s.Fields[name]
		if create && !f.Create {
			continue
		}
		v, ok := c[name]
		if !ok {
			if f.Nullable {
				continue
			}
			v = zeroOrDefault(f)
		}
		for _, key := range uniq(f.Flag, name) {
			switch x := v.(type) {
			case string:
				o.StringOptions[key] = x
			case bool:
				o.BoolOptions[key] = x
			case int64:
				o.IntOptions[key] = x
			case []string:
				o.StringSliceOptions[key] = &driverpb.StringSlice{Value: slices.Clone(x)}
			}
		}
	}
	return o
}

func zeroOrDefault(f Field) any {
	switch f.Type {
	case TypeBoolean:
		b, _ := f.Default.(bool)
		return b
	case TypeInt:
		i, _ := f.Default.(int64)
		return i
	case TypeStringSlice:
		a, _ := f.Default.([]string)
		return slices.Clone(a)
	}
	s, _ := f.Default.(string)
	return s
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// Redact returns c without its password fields, for showing.
func (s Schema) Redact(c Config) map[string]any {
	out := map[string]any{}
	for k, v := range c {
		if f, ok := s.Fields[k]; ok && f.Password {
			continue
		}
		out[k] = v
	}
	return out
}

// Decode reads a Config back from its JSON form (as stored), restoring each
// field's Go type from the schema; fields the schema no longer has are
// dropped.
func (s Schema) Decode(b []byte) (Config, error) {
	in, err := object(b)
	if err != nil {
		return nil, err
	}
	out := Config{}
	for k, raw := range in {
		f, ok := s.Fields[k]
		if !ok {
			continue
		}
		v, set, err := parse(f, raw)
		if err != nil {
			return nil, &FieldError{Field: k, Msg: err.Error()}
		}
		if set {
			out[k] = v
		}
	}
	return out, nil
}

// Keys lists c's fields, sorted.
func (c Config) Keys() []string {
	out := slices.Collect(maps.Keys(c))
	sort.Strings(out)
	return out
}
