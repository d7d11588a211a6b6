package sdk

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// CamelCase turns a flag name into its API field name: "disk-size-gb" and
// "disk_size_gb" become "diskSizeGb"; a name without separators keeps its
// case after the first letter ("enableHTTP" stays, "Name" becomes "name").
func CamelCase(name string) string {
	var b strings.Builder
	first := true
	for part := range strings.FieldsFuncSeq(name, func(r rune) bool { return r == '-' || r == '_' }) {
		r, size := utf8.DecodeRuneInString(part)
		if first {
			b.WriteRune(unicode.ToLower(r))
			first = false
		} else {
			b.WriteRune(unicode.ToUpper(r))
		}
		b.WriteString(part[size:])
	}
	return b.String()
}

// lookup finds the first of names (each as given, then as CamelCase) in m.
func lookup[V any](m map[string]V, names []string) (V, bool) {
	for _, n := range names {
		if v, ok := m[n]; ok {
			return v, true
		}
		if v, ok := m[CamelCase(n)]; ok {
			return v, true
		}
	}
	var zero V
	return zero, false
}

// GetString returns the first of the named string options that is set, or "".
func GetString(o *DriverOptions, names ...string) string {
	v, _ := lookup(o.GetStringOptions(), names)
	return v
}

// GetBool returns the first of the named bool options that is set, or false.
func GetBool(o *DriverOptions, names ...string) bool {
	v, _ := lookup(o.GetBoolOptions(), names)
	return v
}

// GetBoolPtr is GetBool for a boolPtr flag: nil when the user did not set it.
func GetBoolPtr(o *DriverOptions, names ...string) *bool {
	if v, ok := lookup(o.GetBoolOptions(), names); ok {
		return &v
	}
	return nil
}

// GetInt returns the first of the named int options that is set, or 0.
func GetInt(o *DriverOptions, names ...string) int64 {
	v, _ := lookup(o.GetIntOptions(), names)
	return v
}

// GetIntPtr is GetInt for an intPtr flag: nil when the user did not set it.
func GetIntPtr(o *DriverOptions, names ...string) *int64 {
	if v, ok := lookup(o.GetIntOptions(), names); ok {
		return &v
	}
	return nil
}

// GetStringSlice returns the first of the named string-slice options that is
// set, or nil.
func GetStringSlice(o *DriverOptions, names ...string) []string {
	v, _ := lookup(o.GetStringSliceOptions(), names)
	return v.GetValue()
}
