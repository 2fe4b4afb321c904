package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sentinel-tvm/sentinel-tvm/internal/decisionlog"
	"github.com/sentinel-tvm/sentinel-tvm/internal/impact"
	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
)

// Values of policy impact --fail-on.
const (
	failOnDenyIncrease = "deny-increase"
	failOnAnyChange    = "any-change"
)

type impactOptions struct {
	decisions []string
	baseline  string
	logGroup  string
	since     time.Duration
	region    string
	format    string
	failOn    string
	top       int
}

func impactCommand() *cobra.Command {
	var o impactOptions
	c := &cobra.Command{
		Use:   "impact NEW_DIR --decisions FILE... | --log-group NAME",
		Short: "Replay recorded decisions against a proposed policy and report what would change",
		Long: `Impact replays the decisions the service logged (docs/decision-log.md) against
the policy in NEW_DIR and reports every request that would be decided
differently: allow->deny, allow->require_approval, require_approval->deny,
deny->allow, deny->require_approval, require_approval->allow, a shorter or
longer session, or another rule with the same outcome; grouped by rule,
profile and principal, with examples and both decisions' reasons. Requests
NEW_DIR cannot evaluate at all (a removed profile) are listed apart.

With --baseline OLD_DIR both policies decide every request; without it the
proposed policy is compared with the logged decisions, and requests logged
under another policy than the newest one are counted apart.

--decisions takes JSON-lines files (repeat it, or list more files after
NEW_DIR; "-" is standard input); lines that are not decision events are
skipped, so the log of 'sentinel-tvm dev' or a CloudWatch Logs export works
as it is. --log-group reads the function's log group with FilterLogEvents
(the default AWS configuration and region) from --since ago until now.

--format json prints one object with "total" (requests replayed) and
"transitions" (e.g. {"allow->deny": 12}); markdown is for a pull-request
comment. --fail-on sets the exit code 1 when requests lose access
(deny-increase: allow->deny, allow->require_approval,
require_approval->deny, or not evaluable) or when anything changes
(any-change).`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImpact(cmd.Context(), o, args, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := c.Flags()
	f.StringArrayVar(&o.decisions, "decisions", nil, "JSON-lines file of decision events (repeatable; \"-\" is standard input)")
	f.StringVar(&o.baseline, "baseline", "", "the current policy directory to compare with (default: the logged decisions)")
	f.StringVar(&o.logGroup, "log-group", "", "read decision events from this CloudWatch Logs group")
	f.DurationVar(&o.since, "since", 168*time.Hour, "with --log-group: how far back to read")
	f.StringVar(&o.region, "region", "", "with --log-group: the region (default: the AWS configuration's)")
	f.StringVar(&o.format, "format", "text", "output: text, json or markdown")
	f.StringVar(&o.failOn, "fail-on", "", "exit 1 on deny-increase or any-change")
	f.IntVar(&o.top, "top", 5, "groups and examples shown per transition")
	return c
}

func runImpact(ctx context.Context, o impactOptions, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if len(args) == 0 {
		return usagef("policy impact needs NEW_DIR, the proposed policy directory")
	}
	files := append(append([]string(nil), o.decisions...), args[1:]...)
	switch {
	case len(args) > 1 && len(o.decisions) == 0:
		return usagef("policy impact takes one directory (NEW_DIR); decision files go after --decisions")
	case len(files) == 0 && o.logGroup == "":
		return usagef("policy impact needs --decisions FILE or --log-group NAME")
	case o.format != "text" && o.format != "json" && o.format != "markdown":
		return usagef("--format must be text, json or markdown, got %q", o.format)
	case o.failOn != "" && o.failOn != failOnDenyIncrease && o.failOn != failOnAnyChange:
		return usagef("--fail-on must be %s or %s, got %q", failOnDenyIncrease, failOnAnyChange, o.failOn)
	case o.since <= 0:
		return usagef("--since %s must be positive", o.since)
	case o.top < 1:
		return usagef("--top must be at least 1")
	}
	proposed, err := compilePolicyDir(args[0], stderr)
	if err != nil {
		return err
	}
	opts := impact.Options{Proposed: proposed, Top: o.top, Stdin: stdin}
	if o.baseline != "" {
		if opts.Baseline, err = compilePolicyDir(o.baseline, stderr); err != nil {
			return err
		}
	}
	a := impact.NewAnalyzer(opts)
	if len(files) > 0 {
		if err := a.ReadFiles(files); err != nil {
			return fmt.Errorf("reading decisions: %w", err)
		}
	}
	if o.logGroup != "" {
		if err := readLogGroup(ctx, a, o, stderr); err != nil {
			return err
		}
	}
	r := a.Report()
	switch o.format {
	case "json":
		err = r.WriteJSON(stdout)
	case "markdown":
		err = r.WriteMarkdown(stdout)
	default:
		err = r.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if r.Events == 0 {
		fmt.Fprintln(stderr, "warning: no decision events found in the input")
	}
	switch {
	case o.failOn == failOnDenyIncrease && r.LostAccess() > 0:
		return failf("%d requests would lose access (--fail-on %s)", r.LostAccess(), o.failOn)
	case o.failOn == failOnAnyChange && r.Changed+r.NotEvaluable.Count > 0:
		return failf("%d requests would be decided differently (--fail-on %s)", r.Changed+r.NotEvaluable.Count, o.failOn)
	}
	return nil
}

// compilePolicyDir compiles a policy directory without its tests.
func compilePolicyDir(dir string, stderr io.Writer) (*policy.Policy, error) {
	srcs, err := readPolicy(dir, false)
	if err != nil {
		return nil, err
	}
	c, err := compile(srcs, stderr)
	if err != nil {
		return nil, err
	}
	return c.Policy, nil
}

// readLogGroup replays the log group's decision events; on a terminal it
// shows how many log events it has read.
func readLogGroup(ctx context.Context, a *impact.Analyzer, o impactOptions, stderr io.Writer) error {
	var optFns []func(*config.LoadOptions) error
	if o.region != "" {
		optFns = append(optFns, config.WithRegion(o.region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		return fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return usagef("--log-group needs a region: pass --region or set AWS_REGION")
	}
	api := cloudwatchlogs.NewFromConfig(cfg)
	to := time.Now()
	var progress func(int)
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		progress = func(n int) { fmt.Fprintf(stderr, "\rreading %s: %d log events", o.logGroup, n) }
		defer fmt.Fprint(stderr, "\r\033[K")
	}
	return decisionlog.ReadCloudWatch(ctx, api, o.logGroup, to.Add(-o.since), to, func(e decisionlog.Event) error {
		a.Add(&e)
		return nil
	}, progress)
}
