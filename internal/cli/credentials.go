package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sentinel-tvm/sentinel-tvm/client"
)

// tvmOptions are the flags every client command shares.
type tvmOptions struct {
	url           string
	profile       string
	duration      time.Duration
	region        string
	sourceProfile string
}

func (o *tvmOptions) register(f *pflag.FlagSet) {
	f.StringVar(&o.url, "url", "", "the TVM's URL: the API Gateway stage URL, or `sentinel-tvm dev`'s http://HOST:PORT (default: $"+urlEnv+")")
	f.StringVar(&o.profile, "profile", "", "the TVM profile to vend credentials for (required)")
	f.DurationVar(&o.duration, "duration", 0, "session duration, e.g. 30m (default: the policy's; whole seconds, capped by the policy)")
	f.StringVar(&o.region, "region", "", "region to sign for (default: from an execute-api URL, else AWS_REGION or the source profile's)")
	f.StringVar(&o.sourceProfile, "source-profile", "", "shared-config profile whose credentials sign the requests (default: the default chain)")
}

// check validates the flags, taking the URL from $SENTINEL_TVM_URL when
// --url is not given; every problem is a usage error.
func (o *tvmOptions) check() error {
	source := "--url"
	if o.url == "" {
		o.url, source = os.Getenv(urlEnv), urlEnv
	}
	if o.url == "" {
		return usagef("--url is required (or set %s)", urlEnv)
	}
	if o.profile == "" {
		return usagef("--profile is required")
	}
	if u, err := url.Parse(o.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return usagef("%s %q is not an http(s) URL (no credentials, query or fragment)", source, o.url)
	}
	if o.duration < 0 || o.duration%time.Second != 0 {
		return usagef("--duration %s must be a positive whole number of seconds, e.g. 30m", o.duration)
	}
	return nil
}

// newClient builds the signing client, which tells the service the client
// mode (how the command is used). A missing region is a usage error.
func (o *tvmOptions) newClient(mode string) (*client.Client, error) {
	opts := []client.Option{client.WithUserAgent("sentinel-tvm/" + Version), client.WithMode(mode)}
	if o.region != "" {
		opts = append(opts, client.WithRegion(o.region))
	}
	if o.sourceProfile != "" {
		opts = append(opts, client.WithSourceProfile(o.sourceProfile))
	}
	c, err := client.New(o.url, opts...)
	if errors.Is(err, client.ErrNoRegion) {
		return nil, usagef("%s: the URL names no region; pass --region", o.url)
	}
	if err != nil {
		return nil, refusal(err)
	}
	return c, nil
}

func (o *tvmOptions) request() client.CredentialsRequest {
	return client.CredentialsRequest{Profile: o.profile, DurationSeconds: int64(o.duration / time.Second)}
}

// commandLine is how to run the credentials command again, for hints.
func (o *tvmOptions) commandLine(extra ...string) string {
	args := []string{"sentinel-tvm credentials", "--url", o.url, "--profile", o.profile}
	if o.duration > 0 {
		args = append(args, "--duration", o.duration.String())
	}
	if o.region != "" {
		args = append(args, "--region", o.region)
	}
	if o.sourceProfile != "" {
		args = append(args, "--source-profile", o.sourceProfile)
	}
	return strings.Join(append(args, extra...), " ")
}

// failure is an error already worded for the user: Main's callers print
// "sentinel-tvm: " + line on stderr and exit 1.
type failure struct{ line string }

func (f failure) Error() string { return f.line }

// refusal words any client error as one line: the service's code, its
// message and the request ID, and for some codes what to do next. Nothing
// in it comes from credential material.
func refusal(err error) failure {
	var e *client.Error
	if errors.As(err, &e) {
		return failure{oneLine(e.Error())}
	}
	return failure{oneLine(strings.TrimPrefix(err.Error(), "client: "))}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// report prints a failure as the single stderr line and returns the exit.
func report(stderr io.Writer, err error) error {
	var f failure
	if !errors.As(err, &f) {
		return err
	}
	fmt.Fprintf(stderr, "sentinel-tvm: %s\n", f.line)
	return exitError{ExitPolicy}
}

type credentialsOptions struct {
	tvmOptions
	approvalID  string
	wait        bool
	waitTimeout time.Duration
}

// approvalPoll is how often --wait asks about the approval.
var approvalPoll = 2 * time.Second

func credentialsCommand() *cobra.Command {
	var o credentialsOptions
	cmd := &cobra.Command{
		Use:   "credentials --url URL --profile P [--duration D] [--region R] [--source-profile NAME] [--wait]",
		Short: "Print credential_process JSON for a profile, vended by the TVM",
		Long: `Credentials asks the TVM for a profile's credentials, signing the request
with your own AWS credentials (the default chain, or --source-profile), and
prints them as credential_process JSON on stdout, so the AWS CLI and every SDK
can use it from ~/.aws/config:

  [profile dev]
  credential_process = sentinel-tvm credentials --url https://ID.execute-api.REGION.amazonaws.com/v1 --profile dev-readonly

A refusal is one line on stderr with the service's error code and the request
ID (exit 1). When the profile needs approval the line names the approval
request; --wait polls it until an approver decides (progress on stderr), then
vends with it.`,
		Example: `  sentinel-tvm credentials --url http://127.0.0.1:8080 --profile dev-readonly --region us-east-1
  sentinel-tvm credentials --url $URL --profile prod-admin --wait --wait-timeout 30m`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return report(cmd.ErrOrStderr(), runCredentials(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	f := cmd.Flags()
	o.register(f)
	f.StringVar(&o.approvalID, "approval-id", "", "vend with this approved request (from an approval_required answer)")
	f.BoolVar(&o.wait, "wait", false, "when approval is required, wait for the decision, then vend")
	f.DurationVar(&o.waitTimeout, "wait-timeout", 15*time.Minute, "give up waiting for approval after this long")
	return cmd
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

func runCredentials(ctx context.Context, o credentialsOptions, stdout, stderr io.Writer) error {
	if err := o.check(); err != nil {
		return err
	}
	if o.waitTimeout <= 0 {
		return usagef("--wait-timeout %s must be positive", o.waitTimeout)
	}
	c, err := o.newClient(client.ModeCredentialProcess)
	if err != nil {
		return err
	}
	req := o.request()
	req.ApprovalID = o.approvalID
	resp, err := c.Credentials(ctx, req, client.FormatCredentialProcess)
	var e *client.Error
	if o.wait && errors.As(err, &e) && e.Code == client.CodeApprovalRequired && e.ApprovalID != "" {
		if err := waitForApproval(ctx, c, e.ApprovalID, o, stderr); err != nil {
			return err
		}
		req.ApprovalID = e.ApprovalID
		resp, err = c.Credentials(ctx, req, client.FormatCredentialProcess)
	}
	if err != nil {
		return credentialsRefusal(err, o)
	}
	// The service's body, as sent: the credential_process contract.
	var out bytes.Buffer
	if err := json.Compact(&out, resp.Body); err != nil {
		return failure{"the TVM answered malformed JSON"}
	}
	out.WriteByte('\n')
	_, err = stdout.Write(out.Bytes())
	return err
}

// credentialsRefusal adds what to do next to a refusal line.
func credentialsRefusal(err error, o credentialsOptions) error {
	f := refusal(err)
	var e *client.Error
	if errors.As(err, &e) {
		switch {
		case e.Code == client.CodeApprovalRequired && e.ApprovalID != "":
			f.line += fmt.Sprintf("; approval %s: once approved, run: %s", e.ApprovalID, o.commandLine("--approval-id", e.ApprovalID))
			if !o.wait {
				f.line += " (add --wait to wait for it)"
			}
		case e.Code == client.CodeRateLimited && e.RetryAfter > 0:
			f.line += fmt.Sprintf("; retry in %s", e.RetryAfter)
		}
	}
	return f
}

// waitForApproval polls the approval until it is approved (nil), decided
// otherwise, or the timeout passes; progress goes to stderr.
func waitForApproval(ctx context.Context, c *client.Client, id string, o credentialsOptions, stderr io.Writer) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, o.waitTimeout)
	defer cancel()
	fmt.Fprintf(stderr, "sentinel-tvm: profile %s needs approval; waiting up to %s for approval %s to be decided\n", o.profile, o.waitTimeout, id)
	lastStatus, lastNote := "pending", start
	for {
		delay := approvalPoll
		a, err := c.GetApproval(ctx, id)
		var e *client.Error
		switch {
		case err == nil:
			lastStatus = a.Status
			switch a.Status {
			case client.ApprovalApproved:
				fmt.Fprintf(stderr, "sentinel-tvm: approval %s approved after %s; vending\n", id, time.Since(start).Round(time.Second))
				return nil
			case client.ApprovalPending:
				if time.Since(lastNote) >= time.Minute {
					fmt.Fprintf(stderr, "sentinel-tvm: approval %s still pending after %s\n", id, time.Since(start).Round(time.Second))
					lastNote = time.Now()
				}
			default: // denied, cancelled, expired, used
				return failure{fmt.Sprintf("approval %s is %s%s", id, a.Status, decidedBy(a))}
			}
		case ctx.Err() != nil:
		case errors.As(err, &e) && e.Code == client.CodeRateLimited:
			delay = max(delay, e.RetryAfter)
		case errors.As(err, &e) && e.Status < 500:
			return refusal(err)
		default:
			fmt.Fprintf(stderr, "sentinel-tvm: checking approval %s failed, retrying: %s\n", id, refusal(err).line)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return failure{fmt.Sprintf("approval %s is still %s after %s; to wait again, run: %s", id, lastStatus, o.waitTimeout,
					o.commandLine("--approval-id", id, "--wait"))}
			}
			return failure{fmt.Sprintf("stopped waiting for approval %s", id)}
		case <-t.C:
		}
	}
}

func decidedBy(a *client.Approval) string {
	for _, d := range a.Decisions {
		if d.Decision == "deny" {
			s := " by " + d.Approver
			if d.Comment != "" {
				s += ": " + oneLine(d.Comment)
			}
			return s
		}
	}
	return ""
}
