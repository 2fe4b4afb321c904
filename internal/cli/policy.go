package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
)

func policyCommand() *cobra.Command {
	c := withUsageGroups(&cobra.Command{
		Use:   "policy",
		Short: "Compile, test, explain and format HCL policies, and replay logged decisions against them",
	})
	c.AddCommand(compileCommand(), testCommand(), explainCommand(), fmtCommand(), impactCommand())
	return c
}

// readPolicy reads a policy directory; withTests keeps the *.test.hcl files.
// A directory that cannot be read is bad usage.
func readPolicy(dir string, withTests bool) ([]policy.Source, error) {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return nil, usagef("%q is not a readable directory", dir)
	}
	srcs, err := policy.ReadDir(dir)
	if err != nil {
		return nil, usagef("reading %s: %v", dir, err)
	}
	if withTests {
		return srcs, nil
	}
	var out []policy.Source
	for _, s := range srcs {
		if !policy.IsTestFile(s.Name) {
			out = append(out, s)
		}
	}
	return out, nil
}

// compile compiles sources, printing every diagnostic to stderr, one per
// line; on errors it returns exit 1.
func compile(srcs []policy.Source, stderr io.Writer) (*policy.Compiled, error) {
	compiled, diags := policy.Compile(srcs)
	printDiagnostics(stderr, diags)
	if diags.HasErrors() {
		n := 0
		for _, d := range diags {
			if d.Severity == hcl.DiagError {
				n++
			}
		}
		fmt.Fprintf(stderr, "%d error(s): the policy was not compiled\n", n)
		return nil, exitError{code: ExitFailure}
	}
	return compiled, nil
}

func printDiagnostics(w io.Writer, diags hcl.Diagnostics) {
	for _, d := range diags {
		fmt.Fprintln(w, policy.FormatDiagnostic(d))
	}
}

// runTests runs the compiled cases, printing failures and the summary line
// to w; it returns exit 1 when any failed.
func runTests(c *policy.Compiled, w io.Writer) error {
	passed, failed := 0, 0
	for _, r := range c.Policy.RunTests(c.Tests) {
		if r.Failure == "" {
			passed++
			continue
		}
		failed++
		fmt.Fprintln(w, r.String())
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return exitError{code: ExitFailure}
	}
	return nil
}

func compileCommand() *cobra.Command {
	var skipTests, external bool
	c := &cobra.Command{
		Use:   "compile DIR",
		Short: "Compile a policy directory into the canonical JSON bundle (on stdout)",
		Long: `Compile checks every *.hcl file of DIR, runs the *.test.hcl cases (unless
--skip-tests) and writes the bundle to stdout, byte for byte: its sha256sum
is the bundle's sha256. Diagnostics go to stderr as FILE:LINE:COL: summary: detail.

With --terraform-external it speaks the protocol of Terraform's external data
source: a JSON object {"dir": "...", "skip_tests": "false"} on stdin, and
{"bundle", "sha256", "role_arns", "profiles"} (all strings) on stdout.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if external {
				if len(args) != 0 {
					return usagef("--terraform-external reads the directory from stdin; give no DIR")
				}
				return compileExternal(cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			if err := exactArgs("DIR")(cmd, args); err != nil {
				return err
			}
			compiled, err := compileDir(args[0], skipTests, cmd.ErrOrStderr(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(compiled.Bundle)
			return err
		},
	}
	c.Flags().BoolVar(&skipTests, "skip-tests", false, "do not run the policy's *.test.hcl cases")
	c.Flags().BoolVar(&external, "terraform-external", false, "speak Terraform's external data source protocol on stdin/stdout")
	return c
}

// compileDir compiles DIR and, unless skipTests, runs its tests (results to
// testOut). Failed tests fail the compile.
func compileDir(dir string, skipTests bool, stderr, testOut io.Writer) (*policy.Compiled, error) {
	srcs, err := readPolicy(dir, !skipTests)
	if err != nil {
		return nil, err
	}
	compiled, err := compile(srcs, stderr)
	if err != nil {
		return nil, err
	}
	if !skipTests {
		var buf bytes.Buffer
		if err := runTests(compiled, &buf); err != nil {
			io.Copy(testOut, &buf)
			return nil, err
		}
	}
	return compiled, nil
}

func compileExternal(stdin io.Reader, stdout, stderr io.Writer) error {
	var query map[string]string
	dec := json.NewDecoder(stdin)
	if err := dec.Decode(&query); err != nil {
		return usagef("--terraform-external expects a JSON object of strings on stdin: %v", err)
	}
	for k := range query {
		if k != "dir" && k != "skip_tests" {
			return usagef("--terraform-external: unknown query key %q (expected \"dir\" and \"skip_tests\")", k)
		}
	}
	dir := query["dir"]
	if dir == "" {
		return usagef(`--terraform-external: the query needs "dir"`)
	}
	skip := false
	switch query["skip_tests"] {
	case "", "false":
	case "true":
		skip = true
	default:
		return usagef(`--terraform-external: "skip_tests" must be "true" or "false", got %q`, query["skip_tests"])
	}
	compiled, err := compileDir(dir, skip, stderr, stderr)
	if err != nil {
		return err
	}
	roles, _ := json.Marshal(compiled.RoleARNs)
	profiles, _ := json.Marshal(compiled.Profiles)
	return json.NewEncoder(stdout).Encode(map[string]string{
		"bundle":    string(compiled.Bundle),
		"sha256":    compiled.SHA256,
		"role_arns": string(roles),
		"profiles":  string(profiles),
	})
}

func testCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "test DIR",
		Short: "Run the policy's *.test.hcl cases",
		Long: `Test compiles DIR and runs every test block of its *.test.hcl files. It prints
one line per failed case (FILE:LINE: test "NAME": what differed), then
"N passed, N failed", and exits 1 if any case failed.`,
		Args: exactArgs("DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			srcs, err := readPolicy(args[0], true)
			if err != nil {
				return err
			}
			compiled, err := compile(srcs, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return runTests(compiled, cmd.OutOrStdout())
		},
	}
}

func explainCommand() *cobra.Command {
	var (
		principalARN, profile, at, sourceIP, duration, orgID, userID string
		breakGlass, approved                                         bool
	)
	c := &cobra.Command{
		Use:   "explain DIR --principal ARN --profile NAME",
		Short: "Show the decision the policy makes for one request, as JSON",
		Long: `Explain evaluates one request offline exactly as the service would and prints
{"decision", "rule", "reason", "duration_seconds", "profile", "role_arn", "via",
"capped"}. --principal takes a caller ARN as the request context shows it
(an assumed-role session ARN, a user ARN); --time defaults to now.
--break-glass pretends an event is active (opened now, lasting its block's
max_duration); --approved pretends an approved, unused approval exists.`,
		Args: exactArgs("DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var missing []string
			if principalARN == "" {
				missing = append(missing, "--principal ARN")
			}
			if profile == "" {
				missing = append(missing, "--profile NAME")
			}
			if len(missing) > 0 {
				return usagef("explain needs %s", strings.Join(missing, " and "))
			}
			srcs, err := readPolicy(args[0], false)
			if err != nil {
				return err
			}
			req := policy.Request{Profile: profile, Time: time.Now().UTC().Truncate(time.Second)}
			if at != "" {
				if req.Time, err = time.Parse(time.RFC3339, at); err != nil {
					return usagef("--time %q is not an RFC 3339 time such as 2026-03-02T10:00:00Z", at)
				}
			}
			if sourceIP != "" {
				if req.SourceIP, err = netip.ParseAddr(sourceIP); err != nil {
					return usagef("--source-ip %q is not an IP address", sourceIP)
				}
			}
			if duration != "" {
				if req.Duration, err = time.ParseDuration(duration); err != nil || req.Duration <= 0 {
					return usagef("--duration %q is not a positive duration such as 20m", duration)
				}
			}
			if _, err := policy.ParseCaller(principalARN); err != nil {
				return usagef("--principal: %v", err)
			}
			compiled, err := compile(srcs, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			p := compiled.Policy
			req.Principal, _ = p.Principal(principalARN, userID, orgID)
			if approved {
				req.Approval = &policy.Grant{}
			}
			if breakGlass {
				req.BreakGlass = &policy.Grant{}
				if bg, ok := p.BreakGlassFor(req.Principal, profile); ok {
					req.BreakGlass.Expires = req.Time.Add(time.Duration(bg.MaxDuration) * time.Second)
				}
			}
			d := p.Evaluate(&req)
			out := explainOutput{
				Decision: string(d.Effect), Rule: d.Rule, Reason: d.Reason,
				DurationSeconds: int64(d.Duration / time.Second), Profile: profile, RoleARN: d.RoleARN,
				Via: d.Via, Capped: d.Capped,
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
	f := c.Flags()
	f.StringVar(&principalARN, "principal", "", "caller ARN, e.g. arn:aws:sts::111122223333:assumed-role/engineer-dev/alice (required)")
	f.StringVar(&profile, "profile", "", "profile name (required)")
	f.StringVar(&at, "time", "", "request time, RFC 3339 (default now)")
	f.StringVar(&sourceIP, "source-ip", "", "source IP address of the request")
	f.StringVar(&duration, "duration", "", "requested duration, e.g. 20m (default: the profile's)")
	f.BoolVar(&breakGlass, "break-glass", false, "pretend a break-glass event is active")
	f.BoolVar(&approved, "approved", false, "pretend an approved approval exists")
	f.StringVar(&orgID, "org-id", "", "the caller's organization ID (principal.org_id)")
	f.StringVar(&userID, "user-id", "", "the caller's unique ID (principal.user_id)")
	return c
}

type explainOutput struct {
	Decision        string `json:"decision"`
	Rule            string `json:"rule"`
	Reason          string `json:"reason"`
	DurationSeconds int64  `json:"duration_seconds"`
	Profile         string `json:"profile"`
	RoleARN         string `json:"role_arn"`
	Via             string `json:"via,omitempty"`
	Capped          bool   `json:"capped"`
}

func fmtCommand() *cobra.Command {
	var check bool
	c := &cobra.Command{
		Use:   "fmt DIR",
		Short: "Rewrite the policy's HCL files in canonical format",
		Long: `Fmt rewrites every *.hcl file of DIR (tests included) in the canonical HCL
layout and prints the names of the files it changed. With --check it changes
nothing, prints the files that are not formatted and exits 1 if there are any.`,
		Args: exactArgs("DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			srcs, err := readPolicy(args[0], true)
			if err != nil {
				return err
			}
			bad := false
			for _, src := range srcs {
				out, diags := policy.Format(src)
				if diags.HasErrors() {
					printDiagnostics(cmd.ErrOrStderr(), diags)
					bad = true
					continue
				}
				if bytes.Equal(out, src.Data) {
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), src.Name)
				if check {
					bad = true
					continue
				}
				if err := os.WriteFile(src.Name, out, 0o644); err != nil {
					return err
				}
			}
			if bad {
				return exitError{code: ExitFailure}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&check, "check", false, "only report files that are not formatted (exit 1 if any)")
	return c
}
