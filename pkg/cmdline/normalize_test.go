package cmdline

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
)

func testTree() *cobra.Command {
	root := &cobra.Command{Use: "bin", RunE: func(*cobra.Command, []string) error { return nil }}
	root.Flags().String("server", "", "")
	root.Flags().String("log-level", "", "")
	root.Flags().Bool("verbose", false, "")
	root.Flags().StringP("output", "o", "", "")
	sub := &cobra.Command{Use: "sub", RunE: func(*cobra.Command, []string) error { return nil }}
	sub.Flags().String("listen", "", "")
	root.AddCommand(sub)
	Setup(root)
	return root
}

func TestNormalizeArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "nothing", args: nil, want: []string{}},
		{name: "double dash kept", args: []string{"--server", "https://x", "--log-level=debug"}, want: []string{"--server", "https://x", "--log-level=debug"}},
		{name: "single dash with separate value", args: []string{"-server", "https://x"}, want: []string{"--server", "https://x"}},
		{name: "single dash with inline value", args: []string{"-server=https://x"}, want: []string{"--server=https://x"}},
		{name: "value that looks like a flag", args: []string{"--log-level", "-server"}, want: []string{"--log-level", "-server"}},
		{name: "single-dash flag's value that looks like a flag", args: []string{"-log-level", "-server"}, want: []string{"--log-level", "-server"}},
		{name: "bool flag takes no separate value", args: []string{"-verbose", "-server", "x"}, want: []string{"--verbose", "--server", "x"}},
		{name: "shorthand with separate value", args: []string{"-o", "-server"}, want: []string{"-o", "-server"}},
		{name: "help", args: []string{"-help"}, want: []string{"--help"}},
		{name: "short help", args: []string{"-h"}, want: []string{"-h"}},
		{name: "unknown single dash", args: []string{"-bogus", "x"}, want: []string{"--bogus", "x"}},
		{name: "group of shorthands left to pflag", args: []string{"-ho", "x"}, want: []string{"-ho", "x"}},
		{name: "after the terminator", args: []string{"--", "-server"}, want: []string{"--", "-server"}},
		{name: "lone dash", args: []string{"-"}, want: []string{"-"}},
		{name: "subcommand's flags", args: []string{"sub", "-listen", ":1"}, want: []string{"sub", "--listen", ":1"}},
		{name: "root flag after the subcommand is not the subcommand's", args: []string{"sub", "-server", "x"}, want: []string{"sub", "--server", "x"}},
		{name: "flag value naming the subcommand", args: []string{"-log-level", "sub", "-listen", "x"}, want: []string{"--log-level", "sub", "--listen", "x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, NormalizeArgs(testTree(), tc.args)); diff != "" {
				t.Errorf("NormalizeArgs(%q) (-want +got):\n%s", tc.args, diff)
			}
		})
	}
}
