package cmdline

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// NormalizeArgs rewrites the single-dash long flags that Go's flag package
// accepted (-server https://x, -listen=:8443) to pflag's double dash, so
// scripts written for the old binaries keep working. pflag alone would read
// -server as the shorthands s, e, r, v, e, r.
//
// A single-dash word naming a long flag of the command being parsed is
// rewritten, and so is one that cannot be a group of shorthands, so that
// an unknown -word is reported as --word; a flag's separate value and everything after "--" are kept as
// they are. A positional argument naming a subcommand switches to that
// subcommand's flags, as cobra does.
func NormalizeArgs(root *cobra.Command, args []string) []string {
	out := make([]string, 0, len(args))
	cmd := root
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			return append(out, args[i:]...)
		case strings.HasPrefix(arg, "--"):
			out = append(out, arg)
			name, _, inline := strings.Cut(arg[2:], "=")
			if f := lookup(cmd, name); f != nil && !inline && takesValue(f) && i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
		case strings.HasPrefix(arg, "-") && len(arg) > 1:
			name, _, inline := strings.Cut(arg[1:], "=")
			f := lookup(cmd, name)
			if f == nil && len(name) == 1 {
				f = cmd.Flags().ShorthandLookup(name)
			}
			// A long flag, or a word that cannot be a group of shorthands
			// (its first letter is none): pflag then reports it as the
			// unknown flag --word rather than as a shorthand.
			if len(name) > 1 && (f != nil || cmd.Flags().ShorthandLookup(name[:1]) == nil) {
				arg = "-" + arg
			}
			out = append(out, arg)
			if f != nil && !inline && takesValue(f) && i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
		default:
			if sub := subcommand(cmd, arg); sub != nil {
				cmd = sub
			}
			out = append(out, arg)
		}
	}
	return out
}

// lookup finds a long flag of cmd, its own or inherited from its parents.
func lookup(cmd *cobra.Command, name string) *pflag.Flag {
	if name == "" {
		return nil
	}
	if f := cmd.Flags().Lookup(name); f != nil {
		return f
	}
	return cmd.InheritedFlags().Lookup(name)
}

// takesValue says whether the flag reads the next word as its value (bool
// flags do not).
func takesValue(f *pflag.Flag) bool { return f.NoOptDefVal == "" }

func subcommand(cmd *cobra.Command, name string) *cobra.Command {
	for _, sub := range cmd.Commands() {
		if sub.Name() == name || sub.HasAlias(name) {
			return sub
		}
	}
	return nil
}
