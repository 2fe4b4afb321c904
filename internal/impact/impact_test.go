package impact

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/decisionlog"
	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func init() {
	flag.IntVar(&benchN, "bench-n", benchN, "decisions BenchmarkReplayMillion replays")
}

func compileDir(t testing.TB, dir string) *policy.Policy {
	t.Helper()
	srcs, err := policy.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, diags := policy.Compile(srcs)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", dir, diags)
	}
	return c.Policy
}

const acct = "arn:aws:sts::111122223333:assumed-role/"

// scenario is a group of recorded requests and the transition the change
// from testdata/old to testdata/new gives them.
type scenario struct {
	caller, profile string
	requested       int64
	n               int
	want            string // transition, "" unchanged, "!" not evaluable
}

var scenarios = []scenario{
	{acct + "contractor/bob", "dev", 0, 3, AllowToDeny},
	{acct + "sre/carol", "prod", 0, 2, AllowToRequireApproval},
	{acct + "dev/dave", "prod", 0, 4, RequireApprovalToDeny},
	{acct + "auditor/erin", "dev", 0, 1, DenyToAllow},
	{acct + "auditor/erin", "prod", 0, 2, DenyToRequireApproval},
	{acct + "qa/frank", "prod", 0, 1, RequireApprovalToAllow},
	{acct + "dev/dave", "dev", 0, 5, DurationShortened},
	{acct + "ci/build-1", "ci", 0, 2, DurationLengthened},
	{acct + "AWSReservedSSO_Ops_1234/alice", "ops", 0, 3, RuleChanged},
	{acct + "dev/dave", "legacy", 0, 2, "!"},
	{acct + "dev/grace", "dev", 1200, 6, ""},
}

var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// recorded evaluates every scenario's requests under p, as the service
// would have logged them.
func recorded(t testing.TB, p *policy.Policy) []decisionlog.Event {
	t.Helper()
	var out []decisionlog.Event
	i := 0
	for _, s := range scenarios {
		for range s.n {
			i++
			e := decisionlog.Event{
				Schema: 1, Time: start.Add(time.Duration(i) * time.Minute), RequestID: fmt.Sprintf("req-%03d", i),
				Route: "POST /v1/credentials", CallerARN: s.caller, UserID: "AROAEXAMPLE:x", Account: "111122223333",
				SourceIP: "10.1.2.3", Client: policy.ClientCredentialProcess, Profile: s.profile, RequestedDurationSeconds: s.requested,
				PolicySHA256: p.SHA256(),
			}
			req, err := Request(p, &e)
			if err != nil {
				t.Fatal(err)
			}
			e.Principal, e.User = req.Principal.ARN, req.Principal.User
			o := Decide(p, &req)
			e.Decision, e.Rule, e.Reason, e.Via, e.DurationSeconds = o.Decision, o.Rule, o.Reason, o.Via, o.DurationSeconds
			out = append(out, e)
		}
	}
	return out
}

// writeLog writes events as the service logs them, with noise between.
func writeLog(t testing.TB, events []decisionlog.Event) string {
	t.Helper()
	var buf bytes.Buffer
	for i, e := range events {
		line, err := json.Marshal(struct {
			Msg string `json:"msg"`
			decisionlog.Event
		}{"decision", e})
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
		if i%4 == 0 {
			buf.WriteString(`{"msg":"mark session failed","session_id":"x"}` + "\n" + `{"_aws":{},"Vends":1}` + "\n")
		}
	}
	path := filepath.Join(t.TempDir(), "decisions.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRecordedFixture pins testdata/decisions.jsonl, the recorded set the
// CLI tests, the README and examples/ci replay: the scenarios as the old
// policy decided them, with noise lines between.
func TestRecordedFixture(t *testing.T) {
	got, err := os.ReadFile(writeLog(t, recorded(t, compileDir(t, "testdata/old"))))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/decisions.jsonl", got)
}

func wantTransitions() (map[string]int, int, int) {
	want := map[string]int{}
	unchanged, notEval := 0, 0
	for _, s := range scenarios {
		switch s.want {
		case "":
			unchanged += s.n
		case "!":
			notEval += s.n
		default:
			want[s.want] += s.n
		}
	}
	return want, unchanged, notEval
}

func checkCounts(t *testing.T, r *Report) {
	t.Helper()
	want, unchanged, notEval := wantTransitions()
	if len(want) != len(TransitionNames) {
		t.Fatalf("the scenarios cover %d transitions, not all %d", len(want), len(TransitionNames))
	}
	if !reflect.DeepEqual(r.Transitions, want) {
		t.Errorf("transitions = %v\nwant %v", r.Transitions, want)
	}
	total := 0
	for _, s := range scenarios {
		total += s.n
	}
	if r.Total != total || r.Unchanged != unchanged || r.NotEvaluable.Count != notEval || r.Changed != total-unchanged-notEval {
		t.Errorf("total %d unchanged %d not evaluable %d changed %d; want %d %d %d %d",
			r.Total, r.Unchanged, r.NotEvaluable.Count, r.Changed, total, unchanged, notEval, total-unchanged-notEval)
	}
}

func detail(r *Report, name string) Detail {
	for _, d := range r.Details {
		if d.Transition == name {
			return d
		}
	}
	return Detail{}
}

func TestEveryTransitionAgainstABaseline(t *testing.T) {
	old, proposed := compileDir(t, "testdata/old"), compileDir(t, "testdata/new")
	path := writeLog(t, recorded(t, old))
	a := NewAnalyzer(Options{Proposed: proposed, Baseline: old, Workers: 3})
	if err := a.ReadFiles([]string{path}); err != nil {
		t.Fatal(err)
	}
	r := a.Report()
	checkCounts(t, r)
	if r.ComparedWith != "baseline" || r.BaselineSHA256 != old.SHA256() || r.OtherPolicy.Count != 0 {
		t.Errorf("compared with %q %q, other policy %d", r.ComparedWith, r.BaselineSHA256, r.OtherPolicy.Count)
	}
	d := detail(r, AllowToDeny)
	if got := fmt.Sprint(d.ByRule); got != "[{contractors-dev → no-contractors 3}]" {
		t.Errorf("allow->deny by rule = %s", got)
	}
	if got := fmt.Sprint(d.ByPrincipal); got != "[{arn:aws:iam::111122223333:role/contractor 3}]" {
		t.Errorf("allow->deny by principal = %s", got)
	}
	if len(d.Examples) != 3 || d.Examples[0].Before.Reason != "contractors use dev" || d.Examples[0].After.Reason != "contractors are offboarded" {
		t.Errorf("allow->deny examples = %+v", d.Examples)
	}
	rc := detail(r, RuleChanged)
	if got := fmt.Sprint(rc.ByPrincipal); got != "[{arn:aws:iam::111122223333:role/AWSReservedSSO_Ops_1234 (user alice) 3}]" {
		t.Errorf("rule changed by principal = %s", got)
	}
	sh := detail(r, DurationShortened).Examples[0]
	if sh.Before.DurationSeconds != 3600 || sh.After.DurationSeconds != 1800 {
		t.Errorf("shortened example = %+v", sh)
	}
	if got := fmt.Sprint(r.NotEvaluable.ByRule); got != `[{the policy cannot evaluate this request: no profile "legacy" 2}]` {
		t.Errorf("not evaluable by cause = %s", got)
	}
	if r.Events != r.Total || r.Skipped != 0 {
		t.Errorf("events %d skipped %d, total %d", r.Events, r.Skipped, r.Total)
	}
}

// TestEveryTransitionAgainstTheRecord compares with the logged decisions:
// the same transitions, and requests logged under another policy (here:
// the proposed one, as after a rollback) are counted apart.
func TestEveryTransitionAgainstTheRecord(t *testing.T) {
	old, proposed := compileDir(t, "testdata/old"), compileDir(t, "testdata/new")
	events := recorded(t, old)
	// Older events recorded under the proposed policy: replaying them
	// changes nothing, and they are not part of the comparison.
	earlier := recorded(t, proposed)
	for i := range earlier {
		earlier[i].Time = earlier[i].Time.Add(-24 * time.Hour)
		earlier[i].RequestID = "early-" + earlier[i].RequestID
	}
	a := NewAnalyzer(Options{Proposed: proposed})
	for _, e := range append(earlier, events...) {
		a.Add(&e)
	}
	// A decision event that records no evaluation is skipped.
	a.Add(&decisionlog.Event{Schema: 1, Route: "POST /v1/approvals/{id}/approve", Decision: "approve"})
	r := a.Report()
	if r.ComparedWith != "recorded" || r.ReferenceSHA256 != old.SHA256() {
		t.Fatalf("compared with %q, reference %q; want the newest events' policy", r.ComparedWith, r.ReferenceSHA256)
	}
	want, _, notEval := wantTransitions()
	if !reflect.DeepEqual(r.Transitions, want) {
		t.Errorf("transitions = %v\nwant %v", r.Transitions, want)
	}
	// The proposed policy has no legacy profile: its own records of such
	// requests are not evaluable either, and reported as such.
	otherNotEval := notEval
	if r.NotEvaluable.Count != notEval+otherNotEval {
		t.Errorf("not evaluable = %d, want %d", r.NotEvaluable.Count, notEval+otherNotEval)
	}
	if r.OtherPolicy.Count != len(earlier)-otherNotEval || len(r.OtherPolicy.Transitions) != 0 || r.Skipped != 1 {
		t.Errorf("other policy = %+v, skipped %d; want %d requests without transitions", r.OtherPolicy, r.Skipped, len(earlier)-otherNotEval)
	}
	if r.Total != r.Unchanged+r.Changed+r.NotEvaluable.Count+r.OtherPolicy.Count {
		t.Errorf("total %d does not add up: %+v", r.Total, r)
	}
}

// TestReplayUnderTheSamePolicyChangesNothing: the recorded decisions
// replayed under the policy that made them give no transition.
func TestReplayUnderTheSamePolicyChangesNothing(t *testing.T) {
	old := compileDir(t, "testdata/old")
	a := NewAnalyzer(Options{Proposed: old})
	for _, e := range recorded(t, old) {
		a.Add(&e)
	}
	r := a.Report()
	if r.Changed != 0 || r.NotEvaluable.Count != 0 || r.Unchanged != r.Total || r.Total == 0 {
		t.Fatalf("same policy: %+v", r)
	}
}

// TestParallelReplayIsDeterministic: the report does not depend on how
// many goroutines replayed, nor on the order of events.
func TestParallelReplayIsDeterministic(t *testing.T) {
	old, proposed := compileDir(t, "testdata/old"), compileDir(t, "testdata/new")
	events := recorded(t, old)
	path := writeLog(t, events)
	var reports []string
	for _, workers := range []int{1, 4} {
		a := NewAnalyzer(Options{Proposed: proposed, Baseline: old, Workers: workers, Top: 2})
		if err := a.ReadFiles([]string{path, path}); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		a.Report().WriteJSON(&buf)
		reports = append(reports, buf.String())
	}
	a := NewAnalyzer(Options{Proposed: proposed, Baseline: old, Top: 2})
	for i := len(events) - 1; i >= 0; i-- {
		a.Add(&events[i])
		a.Add(&events[i])
	}
	var buf bytes.Buffer
	a.Report().WriteJSON(&buf)
	reports = append(reports, buf.String())
	if reports[0] != reports[1] || reports[0] != reports[2] {
		t.Fatalf("reports differ:\n%s\n%s\n%s", reports[0], reports[1], reports[2])
	}
}

func TestReadFilesReportsAMissingFile(t *testing.T) {
	a := NewAnalyzer(Options{Proposed: compileDir(t, "testdata/old")})
	if err := a.ReadFiles([]string{filepath.Join(t.TempDir(), "nope.jsonl")}); !os.IsNotExist(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestClassify(t *testing.T) {
	allow := Outcome{Decision: "allow", Rule: "a", Via: "policy", DurationSeconds: 1800}
	for _, tc := range []struct {
		mod  func(*Outcome)
		want string
	}{
		{func(*Outcome) {}, ""},
		{func(o *Outcome) { o.Reason = "reworded" }, ""},
		{func(o *Outcome) { o.Decision, o.DurationSeconds = "deny", 0 }, AllowToDeny},
		{func(o *Outcome) { o.DurationSeconds = 900 }, DurationShortened},
		{func(o *Outcome) { o.DurationSeconds = 3600; o.Rule = "b" }, DurationLengthened},
		{func(o *Outcome) { o.Rule = "b" }, RuleChanged},
		{func(o *Outcome) { o.Via = "break_glass" }, RuleChanged},
	} {
		n := allow
		tc.mod(&n)
		if got := Classify(allow, n); got != tc.want {
			t.Errorf("Classify(%+v, %+v) = %q, want %q", allow, n, got, tc.want)
		}
	}
}

// TestMarkdownGolden pins the pull-request comment.
func TestMarkdownGolden(t *testing.T) {
	old, proposed := compileDir(t, "testdata/old"), compileDir(t, "testdata/new")
	a := NewAnalyzer(Options{Proposed: proposed, Baseline: old, Top: 2})
	for _, e := range recorded(t, old) {
		a.Add(&e)
	}
	var buf bytes.Buffer
	if err := a.Report().WriteMarkdown(&buf); err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/report.md", buf.Bytes())
	buf.Reset()
	a.Report().WriteText(&buf)
	golden(t, "testdata/report.txt", buf.Bytes())
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
	if strings.Contains(string(got), "%!") {
		t.Errorf("%s has a formatting error", path)
	}
}

// TestReadFilesAcrossChunks replays a file of several chunks, whose lines
// straddle the chunk ends and whose last line has no newline: every event
// counts once.
func TestReadFilesAcrossChunks(t *testing.T) {
	old, proposed := compileDir(t, "testdata/old"), compileDir(t, "testdata/new")
	base := recorded(t, old)
	var events []decisionlog.Event
	for i := range 200 {
		for _, e := range base {
			e.RequestID = fmt.Sprintf("%s-%d", e.RequestID, i)
			events = append(events, e)
		}
	}
	path := writeLog(t, events)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 4*chunkSize {
		t.Fatalf("the file has %d bytes, fewer than four chunks", len(data))
	}
	os.WriteFile(path, bytes.TrimSuffix(data, []byte("\n")), 0o600)
	for _, workers := range []int{1, 3} {
		a := NewAnalyzer(Options{Proposed: proposed, Baseline: old, Workers: workers})
		if err := a.ReadFiles([]string{path, path}); err != nil {
			t.Fatal(err)
		}
		r := a.Report()
		want, _, _ := wantTransitions()
		for k := range want {
			want[k] *= 400
		}
		if r.Total != 2*len(events) || r.Events != 2*len(events) || !reflect.DeepEqual(r.Transitions, want) {
			t.Errorf("%d workers: total %d events %d, want %d; transitions %v", workers, r.Total, r.Events, 2*len(events), r.Transitions)
		}
	}
}

// TestReadsGzippedExports replays a gzipped log (a CloudWatch Logs export)
// exactly as the same log unzipped.
func TestReadsGzippedExports(t *testing.T) {
	old, proposed := compileDir(t, "testdata/old"), compileDir(t, "testdata/new")
	path := writeLog(t, recorded(t, old))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	gz := path + ".gz"
	os.WriteFile(gz, zipped.Bytes(), 0o600)
	reports := map[string]*Report{}
	for _, p := range []string{path, gz} {
		a := NewAnalyzer(Options{Proposed: proposed, Baseline: old})
		if err := a.ReadFiles([]string{p}); err != nil {
			t.Fatal(err)
		}
		reports[p] = a.Report()
	}
	if plain, zip := reports[path], reports[gz]; plain.Total == 0 || zip.Total != plain.Total || !reflect.DeepEqual(zip.Transitions, plain.Transitions) {
		t.Errorf("gzipped: total %d %v; plain: total %d %v", zip.Total, zip.Transitions, plain.Total, plain.Transitions)
	}
}
