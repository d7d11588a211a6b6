package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newCompletionCommand prints a shell's completion script (cluster names
// are completed from the server, through the current login session).
func newCompletionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print the shell completion script",
		Long: "Print the completion script for a shell. Load it in the current shell with\n" +
			"  source <(drover completion bash)\n" +
			"or install it where the shell looks for completions.",
		Example:   "  drover completion bash > /etc/bash_completion.d/drover\n  drover completion zsh > \"${fpath[1]}/_drover\"",
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(out)
			}
			return fmt.Errorf("no completion for shell %q", args[0])
		},
	}
}
