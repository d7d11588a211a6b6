package schema

import (
	"fmt"
	"slices"
	"sort"

	"github.com/drover-dev/drover/pkg/driver/driverpb"
	"github.com/drover-dev/drover/pkg/driver/sdk"
)

// Field types, as the API shows them.
const (
	TypeString      = "string"
	TypeBoolean     = "boolean"
	TypeInt         = "int"
	TypeStringSlice = "array[string]"
)

// Field is one field of a driver's cluster config.
type Field struct {
	Type        string `json:"type"`
	Default     any    `json:"default,omitempty"`
	Description string `json:"description,omitempty"`
	// Create and Update say whether the field may be set on create and
	// changed on update.
	Create bool `json:"create"`
	Update bool `json:"update"`
	// Nullable fields (boolPtr, intPtr) may be left unset: the driver then
	// gets no value at all rather than a default.
	Nullable bool `json:"nullable,omitempty"`
	// Password fields are never shown back.
	Password bool `json:"password,omitempty"`
	// Flag is the driver's own name for the field.
	Flag string `json:"flag"`
	// FlagType is the driver's flag type (string, bool, boolPtr, int, intPtr,
	// stringSlice).
	FlagType string `json:"flagType"`
}

// Schema is a driver's cluster config schema.
type Schema struct {
	Driver string           `json:"driver"`
	Fields map[string]Field `json:"resourceFields"`
}

// Reserved flag names: Drover sets them itself (the cluster's id and
// name), so they are not config fields.
var reserved = []string{"name", "display-name", "displayName"}

// FromFlags builds the schema from a driver's create and update flags. A
// flag may appear in both (then both Create and Update are true); a flag of
// an unknown type, two flags with the same field name, or one flag with two
// types is an error.
func FromFlags(driver string, create, update *driverpb.DriverFlags) (Schema, error) {
	s := Schema{Driver: driver, Fields: map[string]Field{}}
	add := func(flags *driverpb.DriverFlags, onCreate bool) error {
		names := make([]string, 0, len(flags.GetOptions()))
		for n := range flags.GetOptions() {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			if slices.Contains(reserved, name) {
				continue
			}
			fl := flags.GetOptions()[name]
			f, err := field(name, fl)
			if err != nil {
				return err
			}
			key := sdk.CamelCase(name)
			if key == "" {
				return fmt.Errorf("flag %q has no usable name", name)
			}
			old, seen := s.Fields[key]
			switch {
			case !seen:
				f.Create, f.Update = onCreate, !onCreate
			case old.Flag != name:
				return fmt.Errorf("flags %q and %q both become field %q", old.Flag, name, key)
			case old.FlagType != f.FlagType:
				return fmt.Errorf("flag %q is a %s on create but a %s on update", name, old.FlagType, f.FlagType)
			default:
				f = old
				f.Update = true
				if f.Description == "" {
					f.Description = fl.GetUsage()
				}
			}
			s.Fields[key] = f
		}
		return nil
	}
	if err := add(create, true); err != nil {
		return Schema{}, err
	}
	if err := add(update, false); err != nil {
		return Schema{}, err
	}
	return s, nil
}

func field(name string, fl *driverpb.Flag) (Field, error) {
	f := Field{Description: fl.GetUsage(), Password: fl.GetPassword(), Flag: name, FlagType: fl.GetType()}
	d := fl.GetDefault()
	switch fl.GetType() {
	case sdk.StringType:
		f.Type = TypeString
		if v := d.GetDefaultString(); v != "" && !f.Password {
			f.Default = v
		}
	case sdk.BoolType, sdk.BoolPointerType:
		f.Type = TypeBoolean
		if d != nil {
			f.Default = d.GetDefaultBool()
		}
	case sdk.IntType, sdk.IntPointerType:
		f.Type = TypeInt
		if d != nil {
			f.Default = d.GetDefaultInt()
		}
	case sdk.StringSliceType:
		f.Type = TypeStringSlice
		if v := d.GetDefaultStringSlice().GetValue(); len(v) > 0 {
			f.Default = slices.Clone(v)
		}
	default:
		return Field{}, fmt.Errorf("flag %q has unknown type %q", name, fl.GetType())
	}
	f.Nullable = fl.GetType() == sdk.BoolPointerType || fl.GetType() == sdk.IntPointerType
	if f.Nullable && d == nil {
		f.Default = nil
	}
	return f, nil
}

// Names returns the field names, sorted.
func (s Schema) Names() []string {
	out := make([]string, 0, len(s.Fields))
	for n := range s.Fields {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
