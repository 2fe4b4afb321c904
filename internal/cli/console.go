package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/spf13/cobra"

	"github.com/sentinel-tvm/sentinel-tvm/client"
	"github.com/sentinel-tvm/sentinel-tvm/internal/console"
)

// consoleOptions are the flags of `sentinel-tvm console`.
type consoleOptions struct {
	clientOptions
	listen    string
	noBrowser bool
	refresh   time.Duration
	// whoami names the caller (STS GetCallerIdentity); tests replace it.
	whoami func(ctx context.Context) (string, error)
	// ready, when set, gets the login URL once the console serves (tests).
	ready func(loginURL string)
}

func consoleCommand() *cobra.Command {
	o := consoleOptions{clientOptions: clientOptions{mode: client.ModeConsole}}
	cmd := &cobra.Command{
		Use:   "console [--listen 127.0.0.1:PORT] [--no-browser]",
		Short: "Serve the operators' web console on loopback, signing every call with your AWS identity",
		Long: `Console serves a web console for approvers and operators on 127.0.0.1 (a
random port unless --listen names one): approvals waiting for you, sessions,
break-glass and the profiles you may request. It is only a client: every page
and every button is a SigV4-signed API call with your own AWS identity (the
default chain or --source-profile), so the service decides what you may see
and do, exactly as for the other commands.

It prints a one-time URL on a line of its own and opens it in the browser
(not with --no-browser). The URL's token becomes a session cookie; a second
browser, or another local program, cannot use the console. Ctrl-C (or closing
the terminal) stops it.`,
		Example: `  sentinel-tvm console --url https://abc123.execute-api.eu-west-1.amazonaws.com/api
  sentinel-tvm console --url http://127.0.0.1:8080 --region us-east-1 --source-profile dana --no-browser`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args)
			}
			return nil
		},
	}
	clientCommand(cmd, &o.clientOptions, func(ctx context.Context, c *client.Client, stdout io.Writer) error {
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
		defer stop()
		return runConsole(ctx, o, c, stdout, cmd.ErrOrStderr())
	})
	// --json has no meaning for a web page.
	_ = cmd.Flags().MarkHidden("json")
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:0", "loopback address to serve on, 127.0.0.1:PORT or [::1]:PORT (port 0: a random free port)")
	f.BoolVar(&o.noBrowser, "no-browser", false, "print the URL only; do not open a browser")
	f.DurationVar(&o.refresh, "refresh", 15*time.Second, "how often pages reload their data")
	return cmd
}

// checkListen accepts loopback IP addresses only: the console must not be
// reachable from another machine.
func checkListen(listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return usagef("--listen %q is not HOST:PORT", listen)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return usagef("--listen %q: the console serves on a loopback IP address only, e.g. 127.0.0.1:0", listen)
	}
	return nil
}

func runConsole(ctx context.Context, o consoleOptions, c console.API, stdout, stderr io.Writer) error {
	if err := checkListen(o.listen); err != nil {
		return err
	}
	if o.refresh < time.Second {
		return usagef("--refresh %s is shorter than a second", o.refresh)
	}
	who := o.whoami
	if who == nil {
		who = func(ctx context.Context) (string, error) { return stsCaller(ctx, o.clientOptions) }
	}
	idCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	me, err := who(idCtx)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "sentinel-tvm: your AWS identity is unknown (%s); the console shows every pending request with every action, and the TVM refuses what is not yours to do\n", oneLine(err.Error()))
		me = ""
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return failf("console: listen on %s: %v", o.listen, err)
	}
	defer ln.Close()
	srv, err := console.New(console.Options{API: c, Me: me, Refresh: o.refresh,
		Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}, ln)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "Sentinel TVM console for %s (signing as %s). Open this URL once; Ctrl-C stops the console:\n", o.url, orUnknown(me))
	fmt.Fprintln(stdout, srv.LoginURL())
	if !o.noBrowser {
		if err := openBrowser(srv.LoginURL()); err != nil {
			fmt.Fprintf(stderr, "sentinel-tvm: could not open a browser (%v); open the URL above\n", err)
		}
	}
	if o.ready != nil {
		o.ready(srv.LoginURL())
	}
	if err := srv.Serve(ctx, ln); err != nil {
		return failf("console: %v", err)
	}
	fmt.Fprintln(stderr, "console stopped")
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown identity"
	}
	return s
}

// stsCaller is the caller ARN of the credentials the client signs with.
func stsCaller(ctx context.Context, o clientOptions) (string, error) {
	var fns []func(*config.LoadOptions) error
	if o.sourceProfile != "" {
		fns = append(fns, config.WithSharedConfigProfile(o.sourceProfile))
	}
	if o.region != "" {
		fns = append(fns, config.WithRegion(o.region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, fns...)
	if err != nil {
		return "", err
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", err
	}
	if out.Arn == nil {
		return "", fmt.Errorf("STS named no ARN")
	}
	return *out.Arn, nil
}

// openBrowser opens url with the desktop's handler, without waiting.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
