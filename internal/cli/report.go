package cli

import (
	"context"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sentinel-tvm/sentinel-tvm/client"
	"github.com/sentinel-tvm/sentinel-tvm/internal/decisionlog"
	usagereport "github.com/sentinel-tvm/sentinel-tvm/internal/report"
)

// periodOptions are --since or --from/--to of report and export.
type periodOptions struct {
	since    time.Duration
	from, to string
	now      func() time.Time // tests
}

func (p *periodOptions) register(f *pflag.FlagSet, defaultSince time.Duration) {
	f.DurationVar(&p.since, "since", defaultSince, "the period: this long until now, e.g. 720h (not with --from/--to)")
	f.StringVar(&p.from, "from", "", "start of the period, RFC 3339 or YYYY-MM-DD (UTC midnight), inclusive")
	f.StringVar(&p.to, "to", "", "end of the period, RFC 3339 or YYYY-MM-DD (UTC midnight), exclusive (default: now)")
}

func parseWhen(flag, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("--%s %q is neither RFC 3339 (2026-11-01T00:00:00Z) nor a date (2026-11-01)", flag, s)
}

// period resolves the flags to [from, to).
func (p *periodOptions) period(f *pflag.FlagSet) (from, to time.Time, err error) {
	now := time.Now
	if p.now != nil {
		now = p.now
	}
	to = now().UTC().Truncate(time.Second)
	if p.from == "" && p.to == "" {
		if p.since <= 0 {
			return from, to, usagef("--since %s must be positive", p.since)
		}
		return to.Add(-p.since), to, nil
	}
	if f.Changed("since") {
		return from, to, usagef("--since and --from/--to exclude each other")
	}
	if p.from == "" {
		return from, to, usagef("--to needs --from")
	}
	if from, err = parseWhen("from", p.from); err != nil {
		return from, to, err
	}
	if p.to != "" {
		if to, err = parseWhen("to", p.to); err != nil {
			return from, to, err
		}
	}
	if !from.Before(to) {
		return from, to, usagef("--from %s is not before --to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return from, to, nil
}

// decisionSource is --decisions FILE... or --log-group NAME.
type decisionSource struct {
	files    []string
	logGroup string
	lines    int // decision lines read from the files, in the period or not
}

// emptyWarning says when the files held no decision line at all: the
// wrong files, or a log without the handler's lines.
func (d *decisionSource) emptyWarning() string {
	if len(d.files) == 0 || d.lines > 0 {
		return ""
	}
	return fmt.Sprintf("%s held no decision line (JSON with \"msg\":\"decision\"): refusals are not counted.", strings.Join(d.files, ", "))
}

func (d *decisionSource) register(f *pflag.FlagSet) {
	f.StringArrayVar(&d.files, "decisions", nil, "a decision-log file (JSON lines, .gz or - for stdin) for the refusals; repeatable")
	f.StringVar(&d.logGroup, "log-group", "", "read the decision log from this CloudWatch Logs group instead (the API function's)")
}

func (d *decisionSource) given() bool { return len(d.files) > 0 || d.logGroup != "" }

func (d *decisionSource) check() error {
	if len(d.files) > 0 && d.logGroup != "" {
		return usagef("--decisions and --log-group exclude each other")
	}
	return nil
}

// read streams the decision events of [from, to).
func (d *decisionSource) read(ctx context.Context, o *clientOptions, region string, from, to time.Time, fn func(decisionlog.Event) error, progress func(int)) error {
	keep := func(e decisionlog.Event) error {
		if e.Time.Before(from) || !e.Time.Before(to) {
			return nil
		}
		return fn(e)
	}
	if d.logGroup == "" {
		return decisionlog.ReadFiles(d.files, func(e decisionlog.Event) error {
			d.lines++
			return keep(e)
		})
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(region)}
	if o.sourceProfile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.sourceProfile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return fmt.Errorf("AWS configuration: %w", err)
	}
	return decisionlog.ReadCloudWatch(ctx, cloudwatchlogs.NewFromConfig(cfg), d.logGroup, from, to, keep, progress)
}

// streamPeriod reads a newest-first list (every page of it) down to the
// start of a period: fn gets each item from from on, and the reading
// stops at the first item older than from, every later one being older
// still. progress gets the count of items read after each page's worth.
func streamPeriod[T any](seq iter.Seq2[T, error], at func(T) time.Time, from time.Time, fn func(T) error, progress func(int) error) error {
	n := 0
	for it, err := range seq {
		if err != nil {
			return refusal(err)
		}
		if at(it).Before(from) {
			break
		}
		n++
		if err := fn(it); err != nil {
			return err
		}
		if progress != nil && n%client.MaxPageLimit == 0 {
			if err := progress(n); err != nil {
				return err
			}
		}
	}
	if progress != nil {
		return progress(n)
	}
	return nil
}

// listApprovals reads the approvals the caller may see created from from
// on, one status at a time (the API lists others' requests by status),
// each status's list page by page.
func listApprovals(ctx context.Context, c *client.Client, from time.Time, page func([]client.Approval) error) error {
	seen := map[string]bool{}
	for _, status := range approvalStatuses {
		var fresh []client.Approval
		err := streamPeriod(c.AllApprovals(ctx, status), func(a client.Approval) time.Time { return a.CreatedAt }, from,
			func(a client.Approval) error {
				if !seen[a.ApprovalID] {
					seen[a.ApprovalID] = true
					fresh = append(fresh, a)
				}
				if len(fresh) < client.MaxPageLimit {
					return nil
				}
				err := page(fresh)
				fresh = fresh[:0]
				return err
			}, nil)
		if err != nil {
			return err
		}
		if err := page(fresh); err != nil {
			return err
		}
	}
	return nil
}

// reportLookback is how long before the period the report reads sessions
// and break-glass events: a session issued before the period may be
// revoked in it (STS sessions last at most 12 hours), and an event opened
// before it may still be open.
const reportLookback = 24 * time.Hour

func reportCommand() *cobra.Command {
	var o clientOptions
	var p periodOptions
	var d decisionSource
	var output string
	cmd := &cobra.Command{
		Use:   "report --output FILE.html [--since 720h | --from DATE --to DATE] [--decisions FILE... | --log-group NAME]",
		Short: "Write a usage report (vends, refusals, approvals, break-glass, revocations) as one HTML file",
		Long: `Report writes one self-contained HTML page for a period: vends per day and
profile, the top principals and users, refusals by reason and rule, approvals
(time to decision, who approved what, denied requests), break-glass events
with what was vended under them, revocations, and sessions longer than 45
minutes. Every chart has the table of its numbers beside it. The page loads
nothing from elsewhere and prints to PDF.

Sessions, approvals and break-glass events come from the TVM: operators see
everyone's, anyone else their own. Refusals come from the decision log, from
files (--decisions) or the API function's log group (--log-group); without
either, the report leaves them out.`,
		Example: `  sentinel-tvm report --url "$SENTINEL_TVM_URL" --since 720h --log-group /aws/lambda/sentinel-tvm --output november.html
  sentinel-tvm report --from 2026-11-01 --to 2026-12-01 --decisions decisions.jsonl --output november.html`,
		Args: noArgs,
	}
	clientCommand(cmd, &o, func(ctx context.Context, c *client.Client, _ io.Writer) error {
		if err := required("output", output); err != nil {
			return err
		}
		if err := d.check(); err != nil {
			return err
		}
		from, to, err := p.period(cmd.Flags())
		if err != nil {
			return err
		}
		now := time.Now
		if p.now != nil {
			now = p.now
		}
		in := usagereport.Input{From: from, To: to, GeneratedAt: now(), Source: c.URL(), HasDecisions: d.given()}
		warn := func(w string) {
			if w != "" {
				in.Warnings = append(in.Warnings, w)
				fmt.Fprintf(cmd.ErrOrStderr(), "sentinel-tvm: warning: %s\n", w)
			}
		}
		collect := func(dst *[]client.Session) func(client.Session) error {
			return func(s client.Session) error { *dst = append(*dst, s); return nil }
		}
		err = streamPeriod(c.AllSessions(ctx, client.SessionFilter{}), func(s client.Session) time.Time { return s.IssuedAt },
			from.Add(-reportLookback), collect(&in.Sessions), nil)
		if err != nil {
			return err
		}
		if err := listApprovals(ctx, c, from, func(as []client.Approval) error { in.Approvals = append(in.Approvals, as...); return nil }); err != nil {
			return err
		}
		err = streamPeriod(c.AllBreakGlass(ctx, false), func(e client.BreakGlassEvent) time.Time { return e.OpenedAt }, from.Add(-reportLookback),
			func(e client.BreakGlassEvent) error { in.BreakGlass = append(in.BreakGlass, e); return nil }, nil)
		if err != nil {
			return err
		}
		if d.given() {
			err := d.read(ctx, &o, c.Region(), from, to, func(e decisionlog.Event) error { in.Decisions = append(in.Decisions, e); return nil }, nil)
			if err != nil {
				return failf("%s", err)
			}
			warn(d.emptyWarning())
		}
		return writeFileAtomic(output, func(w io.Writer) error { return usagereport.Build(in).WriteHTML(w) })
	})
	f := cmd.Flags()
	f.StringVar(&output, "output", "", "the HTML file to write (required)")
	p.register(f, 720*time.Hour)
	d.register(f)
	return cmd
}

// writeFileAtomic writes path through a temporary file in its directory,
// so a failed run leaves no half-written report.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return failf("%s", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return failf("%s", err)
	}
	return nil
}
