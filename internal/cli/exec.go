package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sentinel-tvm/sentinel-tvm/client"
)

// childEnvDrop are the variables exec removes from the command's
// environment: credentials that the SDKs would prefer to the agent's, and
// profile selections that could name some.
var childEnvDrop = []string{
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", containerURIVar, containerTokenVar, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
}

func execCommand() *cobra.Command {
	var o vendOptions
	cmd := &cobra.Command{
		Use:   "exec --url URL --profile P [--duration D] -- CMD [ARGS...]",
		Short: "Run a command with a profile's credentials, refreshed for as long as it runs",
		Long: `Exec starts an agent (see 'sentinel-tvm agent') on a free loopback port and
runs CMD with AWS_CONTAINER_CREDENTIALS_FULL_URI and
AWS_CONTAINER_AUTHORIZATION_TOKEN set, and with AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE and the other variables
that would take precedence removed, so the AWS CLI and SDKs in CMD use the
agent's credentials, refreshed past the first hour. Signals are forwarded to
CMD; the agent stops when CMD ends, and exec exits with CMD's exit code
(128+N when a signal N ended it).`,
		Example: `  sentinel-tvm exec --url $URL --profile dev-readonly -- aws s3 ls s3://dev-data/`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("%s needs a command to run after --", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExec(cmd.Context(), o, args, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().SetInterspersed(false) // flags after CMD belong to CMD
	o.register(cmd.Flags())
	return cmd
}

func runExec(ctx context.Context, o vendOptions, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := o.check(); err != nil {
		return err
	}
	c, err := o.newClientAs(client.ModeExec)
	if err != nil {
		return err
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return exitError{127, fmt.Sprintf("%s: %v", argv[0], errors.Unwrap(err))}
	}
	a, err := newAgent(agentVend(c, o), stderr)
	if err != nil {
		return err
	}
	// The agent outlives a cancelled ctx until the command ends: the
	// command decides when to stop, on the signals forwarded to it.
	srv, err := a.start(context.WithoutCancel(ctx), defaultListen)
	if err != nil {
		return err
	}
	defer srv.stop()

	child := exec.Command(path, argv[1:]...)
	child.Args[0] = argv[0]
	child.Env = append(childEnv(os.Environ()), containerURIVar+"="+srv.uri, containerTokenVar+"="+a.token)
	child.Stdin, child.Stdout, child.Stderr = stdin, stdout, stderr

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)
	if err := child.Start(); err != nil {
		return exitError{126, fmt.Sprintf("%s: %v", argv[0], err)}
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				child.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = child.Wait()
	close(done)
	srv.stop()
	return exitError{code: exitCode(child.ProcessState, err)}
}

// childEnv is env without childEnvDrop.
func childEnv(env []string) []string {
	out := make([]string, 0, len(env)+2)
outer:
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		for _, d := range childEnvDrop {
			if k == d {
				continue outer
			}
		}
		out = append(out, kv)
	}
	return out
}

// exitCode is the command's exit code, or 128+N when signal N ended it.
func exitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		if err != nil {
			return 1
		}
		return 0
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
