package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sentinel-tvm/sentinel-tvm/client"
)

// vendOptions are the flags of the commands that vend a profile's
// credentials (credentials, agent, exec): the connection flags, --profile
// and --duration.
type vendOptions struct {
	clientOptions
	profile  string
	duration time.Duration
}

func (o *vendOptions) register(f *pflag.FlagSet) {
	o.registerConnection(f)
	f.StringVar(&o.profile, "profile", "", "the TVM profile to vend credentials for (required)")
	f.DurationVar(&o.duration, "duration", 0, "session duration, e.g. 30m (default: the policy's; whole seconds, capped by the policy)")
}

// check validates the flags; every problem is a usage error.
func (o *vendOptions) check() error {
	if err := o.checkURL(); err != nil {
		return err
	}
	if o.profile == "" {
		return usagef("--profile is required")
	}
	_, err := durationSeconds(o.duration)
	return err
}

func (o *vendOptions) request() client.CredentialsRequest {
	return client.CredentialsRequest{Profile: o.profile, DurationSeconds: int64(o.duration / time.Second)}
}

// commandLine is how to run the credentials command again, for hints.
func (o *vendOptions) commandLine(extra ...string) string {
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

type credentialsOptions struct {
	vendOptions
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
			return runCredentials(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
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
	c, err := o.newClientAs(client.ModeCredentialProcess)
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
	return writeJSON(stdout, resp.Body)
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
				return failf("approval %s is %s%s", id, a.Status, decidedBy(a))
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
				return failf("approval %s is still %s after %s; to wait again, run: %s", id, lastStatus, o.waitTimeout,
					o.commandLine("--approval-id", id, "--wait"))
			}
			return failf("stopped waiting for approval %s", id)
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
