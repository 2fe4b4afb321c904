// Package cli is the sentinel-tvm command line. Main runs it with explicit
// arguments and streams, so tests drive it exactly as a user would.
//
// A command that calls the TVM is built with clientCommand, which gives it
// the shared connection flags (clientOptions: --url, --region,
// --source-profile, --json) and a ready client; it prints with o.print or
// printList and returns the client's errors as they are. The commands that
// vend (credentials, agent, exec) embed the same flags in vendOptions.
// Every command ends with an error or nil: usagef (exit 2), failf or a
// client error (exit 1), exitError for any other code; Main prints the
// line once.
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
	ExitOK      = 0
	ExitFailure = 1 // the command ran and failed: the TVM refused, the policy has errors, a policy test failed, files are unformatted
	ExitUsage   = 2 // bad usage: a flag or an argument is missing or wrong
)

// exitError is how a command ends with an exit code other than 0. Main
// prints its line, when it has one, as the command's last word on stderr:
// a usage error as "Error: LINE" with a pointer to --help, any other as
// "sentinel-tvm: LINE". A command that has already said what went wrong
// (compile diagnostics, a child's own exit code) leaves line empty.
type exitError struct {
	code int
	line string
}

func (e exitError) Error() string {
	if e.line == "" {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.line
}

// usagef is a mistake in how a command was called (exit 2).
func usagef(format string, args ...any) error {
	return exitError{ExitUsage, fmt.Sprintf(format, args...)}
}

// failf is a failure already worded for the user, one line (exit 1).
func failf(format string, args ...any) error {
	return exitError{ExitFailure, oneLine(fmt.Sprintf(format, args...))}
}

// Version is set at build time with -ldflags "-X ...cli.Version=...".
var Version = "dev"

// Main runs the command line and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := rootCommand()
	if args == nil {
		args = []string{} // cobra reads os.Args for nil; Main's arguments are the only input
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteC()
	return finish(stderr, cmd.CommandPath(), err)
}

// finish prints how a command ended, when it says so, and returns the exit
// code: an exitError's line and code, cobra's own usage errors as usage
// errors, any other error as a one-line failure.
func finish(stderr io.Writer, commandPath string, err error) int {
	if err == nil {
		return ExitOK
	}
	var ee exitError
	switch {
	case errors.As(err, &ee):
	case strings.HasPrefix(err.Error(), "unknown command"), strings.HasPrefix(err.Error(), "unknown flag"):
		ee = exitError{ExitUsage, err.Error()} // cobra's own
	default:
		ee = exitError{ExitFailure, oneLine(err.Error())}
	}
	switch {
	case ee.line == "":
	case ee.code == ExitUsage:
		fmt.Fprintf(stderr, "Error: %s\nRun '%s --help' for usage.\n", ee.line, commandPath)
	default:
		fmt.Fprintf(stderr, "sentinel-tvm: %s\n", ee.line)
	}
	return ee.code
}

// rootCommand is the command tree.
func rootCommand() *cobra.Command {
	root := withUsageGroups(&cobra.Command{
		Use:           "sentinel-tvm",
		Short:         "Sentinel TVM: vend short-lived AWS credentials only when an HCL policy allows it",
		Version:       Version,
		SilenceErrors: true,
		SilenceUsage:  true,
	})
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return exitError{ExitUsage, err.Error()} })
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
	root.AddCommand(reportCommand())
	root.AddCommand(exportCommand())
	root.AddCommand(consoleCommand())
	return root
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
