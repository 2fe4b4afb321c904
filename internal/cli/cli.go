// Package cli is the sentinel-tvm command line. Main runs it with explicit
// arguments and streams, so tests drive it exactly as a user would.
package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes of every command.
const (
	ExitOK     = 0
	ExitPolicy = 1 // policy errors, failed tests, unformatted files
	ExitUsage  = 2 // bad usage
)

// usageError is a mistake in how a command was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exitError ends a command with a code after it has said what went wrong.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Version is set at build time with -ldflags "-X ...cli.Version=...".
var Version = "dev"

// Main runs the command line and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := withUsageGroups(&cobra.Command{
		Use:           "sentinel-tvm",
		Short:         "Sentinel TVM: vend short-lived AWS credentials only when an HCL policy allows it",
		Version:       Version,
		SilenceErrors: true,
		SilenceUsage:  true,
	})
	if args == nil {
		args = []string{} // cobra reads os.Args for nil; Main's arguments are the only input
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err.Error()} })
	root.AddCommand(policyCommand())
	root.AddCommand(devCommand())
	root.AddCommand(credentialsCommand())
	root.AddCommand(agentCommand())
	root.AddCommand(execCommand())
	root.AddCommand(profilesCommand())
	root.AddCommand(approvalsCommand())
	root.AddCommand(approveCommand())
	root.AddCommand(denyCommand())
	root.AddCommand(cancelCommand())
	root.AddCommand(requestApprovalCommand())
	root.AddCommand(breakGlassCommand())
	root.AddCommand(sessionsCommand())
	root.AddCommand(sessionCommand())
	root.AddCommand(revokeCommand())
	root.AddCommand(consoleCommand())

	cmd, err := root.ExecuteC()
	var ue usageError
	var ee exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue), strings.HasPrefix(err.Error(), "unknown command"), strings.HasPrefix(err.Error(), "unknown flag"):
		fmt.Fprintf(stderr, "Error: %s\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
		return ExitUsage
	default:
		fmt.Fprintf(stderr, "Error: %s\n", err)
		return ExitPolicy
	}
}

// exactArgs is cobra.ExactArgs with a usage error and the argument's name.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usagef("%s takes %d argument(s) (%s), got %d", cmd.CommandPath(), len(names), strings.Join(names, " "), len(args))
		}
		return nil
	}
}

// withUsageGroups makes a parent command fail as bad usage without a
// subcommand, instead of printing help and succeeding.
func withUsageGroups(c *cobra.Command) *cobra.Command {
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			hint := ""
			if cmd.SuggestionsMinimumDistance <= 0 {
				cmd.SuggestionsMinimumDistance = 2 // cobra's default, which SuggestionsFor does not apply
			}
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				hint = fmt.Sprintf("; did you mean %q?", s[0])
			}
			return usagef("unknown command %q for %q%s", args[0], cmd.CommandPath(), hint)
		}
		var names []string
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() && sub.Name() != "help" && sub.Name() != "completion" {
				names = append(names, sub.Name())
			}
		}
		return usagef("%s needs a subcommand: %s", cmd.CommandPath(), strings.Join(names, ", "))
	}
	c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Args(cmd, args) }
	return c
}
