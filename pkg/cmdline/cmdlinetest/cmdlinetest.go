package cmdlinetest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Case passes one flag in one form.
type Case struct {
	// Name is "<command path> <form>", e.g. "auth-endpoint -listen value".
	Name string
	// Args is the command line after the binary's name.
	Args []string
	// Value is what the option must read back as (fmt.Sprint of the field).
	Value string
}

// FlagCases returns three cases (two for a bool flag on by default) for
// every flag registered on cmd or its subcommands (cobra's help flag
// aside), enumerated from the flag sets, so a flag added later is covered
// without editing the test. A flag of a type
// it has no sample value for fails t.
func FlagCases(t testing.TB, cmd *cobra.Command) []Case {
	t.Helper()
	var cases []Case
	path := strings.Fields(cmd.CommandPath())[1:]
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" {
			return
		}
		value, ok := sample(f)
		if !ok {
			t.Fatalf("flag --%s: no sample value for type %s; add one to cmdlinetest", f.Name, f.Value.Type())
		}
		prefix := strings.Join(append(path, ""), " ")
		forms := [][]string{{"--" + f.Name + "=" + value}, {"--" + f.Name, value}, {"-" + f.Name, value}}
		switch {
		case f.Value.Type() == "bool" && f.DefValue == "true":
			// A flag on by default is turned off; only the = forms can.
			value = "false"
			forms = [][]string{{"--" + f.Name + "=false"}, {"-" + f.Name + "=false"}}
		case f.Value.Type() == "bool":
			forms = [][]string{{"--" + f.Name + "=true"}, {"--" + f.Name}, {"-" + f.Name}}
		}
		for _, form := range forms {
			cases = append(cases, Case{
				Name:  prefix + strings.Join(form, " "),
				Args:  append(append([]string{}, path...), form...),
				Value: value,
			})
		}
	})
	for _, sub := range cmd.Commands() {
		cases = append(cases, FlagCases(t, sub)...)
	}
	return cases
}

// sample is a value of the flag's type that reads back as itself and
// differs from the usual defaults.
func sample(f *pflag.Flag) (string, bool) {
	switch f.Value.Type() {
	case "string":
		return "set-by-" + f.Name, true
	case "duration":
		return "1h2m3s", true
	case "bool":
		return "true", true
	case "int", "int64", "uint", "uint64":
		return "4242", true
	case "float64":
		return "0.25", true
	}
	return "", false
}

// Stub replaces the run of cmd and its subcommands with one that does
// nothing, so a test parses a command line without validating or running.
func Stub(cmd *cobra.Command) {
	if cmd.RunE != nil || cmd.Run != nil {
		cmd.Run, cmd.RunE = nil, func(*cobra.Command, []string) error { return nil }
	}
	for _, sub := range cmd.Commands() {
		Stub(sub)
	}
}

// Changed returns the fields of two structs (or pointers to them) that
// differ, by name, with their value in after as fmt.Sprint prints it.
func Changed(before, after any) map[string]string {
	out := map[string]string{}
	changed(reflect.Indirect(reflect.ValueOf(before)), reflect.Indirect(reflect.ValueOf(after)), "", out)
	return out
}

// changed adds the exported fields that differ to out, by their path
// (nested option structs, such as a shared set of flags, by Outer.Inner).
func changed(b, a reflect.Value, prefix string, out map[string]string) {
	for i := range a.NumField() {
		f := a.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() != "time" {
			changed(b.Field(i), a.Field(i), prefix+f.Name+".", out)
			continue
		}
		if !reflect.DeepEqual(b.Field(i).Interface(), a.Field(i).Interface()) {
			out[prefix+f.Name] = fmt.Sprint(a.Field(i).Interface())
		}
	}
}
