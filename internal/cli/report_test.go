package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/net/html"

	"github.com/google/go-cmp/cmp"

	"github.com/sentinel-tvm/sentinel-tvm/internal/motoserver"
	usagereport "github.com/sentinel-tvm/sentinel-tvm/internal/report"
	"github.com/sentinel-tvm/sentinel-tvm/internal/testutil"
)

// scriptClock is the dev service's clock in a scripted month.
type scriptClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *scriptClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *scriptClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// startDevClock runs `sentinel-tvm dev` on the scripted clock and returns
// its log (the decision log among other lines).
func startDevClock(t *testing.T, clock *scriptClock) (devClient, *testutil.SyncBuffer) {
	t.Helper()
	srv := motoserver.Start(t)
	clearAWSEnv(t)
	dir := t.TempDir()
	credsFile := filepath.Join(dir, "credentials")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout testutil.SyncBuffer
	stderr := &testutil.SyncBuffer{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		o := devOptions{policies: "../../policies", listen: "127.0.0.1:0", endpoint: srv.URL, identities: lifecycleIdentities,
			credentialsFile: credsFile, region: "us-east-1", now: clock.now}
		if err := runDev(ctx, o, &stdout, stderr); err != nil {
			t.Errorf("runDev: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	d := devClient{t: t, base: waitListening(t, stdout.String, done), credsFile: credsFile}
	// The CLI signs with the dev identities' credentials.
	tvmWrite(t, filepath.Join(dir, "config"), "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credsFile)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return d, stderr
}

// monthTally is what the scripted month did, counted by the test from the
// service's answers.
type monthTally struct {
	vendsPerDay   map[string]map[string]int // day -> profile -> vends
	vendsProfile  map[string]int
	principals    map[string]int
	users         map[string]int
	refusalReason map[string]int
	refusalRule   map[string]int
	approvals     int
	approvalWaits []time.Duration
	denied        map[string]string // approval ID -> the deny comment
	approvedBy    map[string]string // approval ID -> approver
	breakGlass    map[string]time.Duration
	bgSessions    map[string]string // event ID -> session ID
	revoked       map[string]string // session ID -> reason
	long          []string          // session IDs over 45 minutes
	decisions     int               // decision-log lines of the month
}

var arnOf = map[string]string{}

func init() {
	for _, id := range lifecycleIdentities {
		name, arn, _ := strings.Cut(id, "=")
		arnOf[name] = arn
	}
}

// principalOf is the principal the service records: the role of an
// assumed-role session.
func principalOf(name string) string {
	arn := arnOf[name]
	if rest, ok := strings.CutPrefix(arn, "arn:aws:sts::"); ok {
		acct, role, _ := strings.Cut(strings.TrimPrefix(rest, ""), ":assumed-role/")
		role, _, _ = strings.Cut(role, "/")
		return "arn:aws:iam::" + acct + ":role/" + role
	}
	return arn
}

// identityOf is how the service names a person in approvals and
// break-glass: the principal, and the user when the policy trusts one.
func identityOf(name string) string {
	if u := userOf(name); u != "" {
		return principalOf(name) + "#" + u
	}
	return principalOf(name)
}

// userOf is the person the example policy sees: the session name of the
// trusted AWSReservedSSO_* roles, nobody otherwise.
func userOf(name string) string {
	arn := arnOf[name]
	if !strings.Contains(arn, ":assumed-role/AWSReservedSSO_") {
		return ""
	}
	return arn[strings.LastIndex(arn, "/")+1:]
}

// nearestRank is the p-th percentile of ds, nearest rank.
func nearestRank(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(math.Ceil(p/100*float64(len(s))))-1]
}

// TestReportMonth drives a month of traffic through `sentinel-tvm dev` on a
// scripted clock (vends, refusals, approvals approved and denied,
// break-glass closed and expired, revocations), then checks that every
// number of `sentinel-tvm report` equals the test's own count of what the
// service answered, and that `export` writes the same records.
func TestReportMonth(t *testing.T) {
	if testing.Short() {
		t.Skip("a month on moto")
	}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	clock := &scriptClock{t: start}
	d, devLog := startDevClock(t, clock)
	t.Cleanup(func() {
		if t.Failed() {
			for _, l := range strings.Split(devLog.String(), "\n") {
				if strings.Contains(l, `"cause"`) {
					t.Log(l)
				}
			}
		}
	})
	tally := monthTally{vendsPerDay: map[string]map[string]int{}, vendsProfile: map[string]int{}, principals: map[string]int{}, users: map[string]int{},
		refusalReason: map[string]int{}, refusalRule: map[string]int{}, denied: map[string]string{}, approvedBy: map[string]string{},
		breakGlass: map[string]time.Duration{}, bgSessions: map[string]string{}, revoked: map[string]string{}}

	// vend asks for credentials and counts the answer: a vend, or a
	// refusal by the rule the example policy decides it with.
	vend := func(who, body, rule string) (string, devResponse) {
		t.Helper()
		r := d.as(who, "POST", "/v1/credentials", body)
		tally.decisions++
		if r.status == 200 {
			var out struct {
				SessionID string `json:"session_id"`
				Profile   string `json:"profile"`
				ExpiresAt time.Time
			}
			if err := json.Unmarshal([]byte(r.raw), &out); err != nil {
				t.Fatal(err)
			}
			day := clock.now().Format(time.DateOnly)
			if tally.vendsPerDay[day] == nil {
				tally.vendsPerDay[day] = map[string]int{}
			}
			tally.vendsPerDay[day][out.Profile]++
			tally.vendsProfile[out.Profile]++
			tally.principals[principalOf(who)]++
			if u := userOf(who); u != "" {
				tally.users[u]++
			}
			return out.SessionID, r
		}
		if rule == "" {
			t.Fatalf("%s %s: unexpected refusal %d %s", who, body, r.status, r.raw)
		}
		tally.refusalReason[errCode(r)]++
		tally.refusalRule[rule]++
		return "", r
	}
	do := func(who, method, path, body string) devResponse {
		t.Helper()
		r := d.as(who, method, path, body)
		tally.decisions++
		if r.status/100 != 2 {
			t.Fatalf("%s %s %s: %d %s", who, method, path, r.status, r.raw)
		}
		return r
	}
	sessionLonger := func(id string) {
		r := do("oscar", "GET", "/v1/sessions/"+id, "")
		issued, _ := time.Parse(time.RFC3339, r.body["issued_at"].(string))
		expires, _ := time.Parse(time.RFC3339, r.body["expires_at"].(string))
		if expires.Sub(issued) > 45*time.Minute {
			tally.long = append(tally.long, id)
		}
	}

	for day := range 30 {
		at := func(hm string) {
			dd, _ := time.ParseDuration(hm)
			clock.set(start.AddDate(0, 0, day).Add(dd))
		}
		var ssoSessions []string
		if day%7 != 5 { // one quiet day a week
			for i := range 1 + day%3 {
				at(fmt.Sprintf("9h%dm", 10*i))
				id, _ := vend("sso", `{"profile":"prod-readonly","duration_seconds":1200}`, "")
				ssoSessions = append(ssoSessions, id)
			}
		}
		at("10h")
		if day%2 == 0 {
			vend("alice", `{"profile":"analytics-readonly"}`, "default-deny") // no organization: nothing
		}
		if day%3 == 0 {
			vend("alice", `{"profile":"prod-readonly"}`, "default-deny")
		}
		if day%4 == 1 {
			_, r := vend("bob", `{"profile":"prod-admin","duration_seconds":1800}`, "prod-admin-needs-approval")
			id, _ := r.body["error"].(map[string]any)["approval_id"].(string)
			if id == "" {
				t.Fatalf("day %d: bob's request: %s", day, r.raw)
			}
			tally.approvals++
			wait := time.Duration(day+1) * 7 * time.Minute
			at("10h" + strconv.Itoa(int(wait/time.Minute)) + "m")
			tally.approvalWaits = append(tally.approvalWaits, wait)
			if day%8 == 5 {
				comment := fmt.Sprintf("no change ticket on day %d", day+1)
				do("dan", "POST", "/v1/approvals/"+id+"/deny", `{"comment":"`+comment+`"}`)
				tally.denied[id] = comment
			} else {
				do("eve", "POST", "/v1/approvals/"+id+"/approve", `{"comment":"ok"}`)
				tally.approvedBy[id] = identityOf("eve")
				vend("bob", `{"profile":"prod-admin","approval_id":"`+id+`"}`, "")
			}
		}
		if day == 10 || day == 20 {
			at("14h")
			r := do("carol", "POST", "/v1/break-glass", `{"profile":"prod-admin","reason_code":"incident","justification":"INC-`+strconv.Itoa(day)+`: database down, on-call needs admin","duration_seconds":3600}`)
			ev := r.body["event_id"].(string)
			at("14h05m")
			sid, _ := vend("carol", `{"profile":"prod-admin","duration_seconds":3600}`, "")
			tally.bgSessions[ev] = sid
			sessionLonger(sid)
			tally.breakGlass[ev] = time.Hour // expires
			if day == 10 {
				at("14h40m")
				do("oscar", "POST", "/v1/break-glass/"+ev+"/close", `{"comment":"resolved"}`)
				tally.breakGlass[ev] = 40 * time.Minute
			}
		}
		if (day == 15 || day == 25) && len(ssoSessions) > 0 {
			at("9h15m")
			reason := fmt.Sprintf("laptop reported lost, day %d", day+1)
			do("oscar", "POST", "/v1/sessions/"+ssoSessions[0]+"/revoke", `{"reason":"`+reason+`"}`)
			tally.revoked[ssoSessions[0]] = reason
		}
	}
	clock.set(start.AddDate(0, 0, 30).Add(time.Hour))

	dir := t.TempDir()
	logFile := filepath.Join(dir, "decisions.log")
	tvmWrite(t, logFile, devLog.String())
	out := filepath.Join(dir, "report.html")
	oscar := []string{"--url", d.base, "--region", "us-east-1", "--source-profile", "oscar"}
	period := []string{"--from", "2026-11-01", "--to", "2026-12-01"}
	r := tvmMain(with(append([]string{"report", "--output", out, "--decisions", logFile}, period...), oscar)...)
	if r.code != 0 {
		t.Fatalf("report: %d %s %s", r.code, r.stdout, r.stderr)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("SENTINEL_REPORT_HTML") != "" {
		_ = os.WriteFile(os.Getenv("SENTINEL_REPORT_HTML"), page, 0o644)
	}
	doc := parseHTML(t, page)

	// Vends per day and profile.
	perDay := htmlTable(t, doc, "vends-per-day")
	header := perDay[0][1 : len(perDay[0])-1]
	got := map[string]map[string]int{}
	for _, row := range perDay[1:] {
		got[row[0]] = map[string]int{}
		for i, p := range header {
			if n := atoi(t, row[i+1]); n > 0 {
				got[row[0]][p] = n
			}
		}
	}
	if diff := cmp.Diff(tally.vendsPerDay, got); diff != "" {
		t.Errorf("vends per day (-test +report):\n%s", diff)
	}
	for _, c := range []struct {
		table string
		want  map[string]int
	}{
		{"vends-per-profile", tally.vendsProfile},
		{"top-principals", tally.principals},
		{"top-users", tally.users},
		{"refusals-by-reason", tally.refusalReason},
		{"refusals-by-rule", tally.refusalRule},
	} {
		if diff := cmp.Diff(c.want, countTable(t, doc, c.table)); diff != "" {
			t.Errorf("%s (-test +report):\n%s", c.table, diff)
		}
	}

	// Approvals: count, median and p90 time to decision, who decided what.
	timing := map[string]string{}
	for _, row := range htmlTable(t, doc, "approvals-timing") {
		timing[row[0]] = row[1]
	}
	wantTiming := map[string]string{
		"Requests": strconv.Itoa(tally.approvals), "Decided (approved or denied)": strconv.Itoa(len(tally.approvalWaits)),
		"Median time to decision":          usagereport.FormatDuration(nearestRank(tally.approvalWaits, 50)),
		"90th percentile time to decision": usagereport.FormatDuration(nearestRank(tally.approvalWaits, 90)),
	}
	if diff := cmp.Diff(wantTiming, timing); diff != "" {
		t.Errorf("approval timing (-test +report):\n%s", diff)
	}
	decided := map[string]string{}
	for _, row := range htmlTable(t, doc, "approval-decisions")[1:] {
		if row[5] == "approve" {
			decided[row[1]] = row[4]
		}
	}
	if diff := cmp.Diff(tally.approvedBy, decided); diff != "" {
		t.Errorf("who approved what (-test +report):\n%s", diff)
	}
	denied := map[string]string{}
	for _, row := range htmlTable(t, doc, "approvals-denied")[1:] {
		denied[row[1]] = strings.TrimPrefix(row[5], identityOf("dan")+": ")
	}
	if diff := cmp.Diff(tally.denied, denied); diff != "" {
		t.Errorf("denied requests (-test +report):\n%s", diff)
	}

	// Break-glass: how long each was open, what was vended under it.
	bg, bgSessions := map[string]time.Duration{}, map[string]string{}
	for _, row := range htmlTable(t, doc, "break-glass")[1:] {
		dur, err := time.ParseDuration(row[6])
		if err != nil {
			t.Fatal(err)
		}
		bg[row[1]] = dur
		bgSessions[row[1]], _, _ = strings.Cut(row[8], " ")
		if !strings.Contains(row[5], "database down") {
			t.Errorf("break-glass %s: justification %q", row[1], row[5])
		}
	}
	if diff := cmp.Diff(tally.breakGlass, bg); diff != "" {
		t.Errorf("break-glass (-test +report):\n%s", diff)
	}
	if diff := cmp.Diff(tally.bgSessions, bgSessions); diff != "" {
		t.Errorf("sessions under break-glass (-test +report):\n%s", diff)
	}
	revoked := map[string]string{}
	for _, row := range htmlTable(t, doc, "revocations")[1:] {
		revoked[row[1]] = row[5]
	}
	if diff := cmp.Diff(tally.revoked, revoked); diff != "" {
		t.Errorf("revocations (-test +report):\n%s", diff)
	}
	var long []string
	for _, row := range htmlTable(t, doc, "long-sessions")[1:] {
		long = append(long, row[1])
	}
	if diff := cmp.Diff(tally.long, long); diff != "" {
		t.Errorf("long sessions (-test +report):\n%s", diff)
	}

	// Anyone but an operator gets a report of their own.
	bobOut := filepath.Join(dir, "bob.html")
	bob := []string{"--url", d.base, "--region", "us-east-1", "--source-profile", "bob"}
	if r := tvmMain(with(append([]string{"report", "--output", bobOut}, period...), bob)...); r.code != 0 {
		t.Fatalf("bob's report: %d %s", r.code, r.stderr)
	}
	bobPage, _ := os.ReadFile(bobOut)
	if diff := cmp.Diff(map[string]int{principalOf("bob"): tally.principals[principalOf("bob")]}, countTable(t, parseHTML(t, bobPage), "top-principals")); diff != "" {
		t.Errorf("bob's report shows others (-want +got):\n%s", diff)
	}

	// Export: the same records, CSV with a header and JSON lines.
	r = tvmMain(with(append([]string{"export", "sessions", "--format", "csv"}, period...), oscar)...)
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if r.code != 0 || err != nil {
		t.Fatalf("export sessions: %d %v %s", r.code, err, r.stderr)
	}
	if r.stderr != "" {
		t.Errorf("export wrote to a stderr that is no terminal: %q", r.stderr)
	}
	if !slices.Equal(rows[0], sessionColumns) || len(rows)-1 != sum(tally.vendsProfile) {
		t.Errorf("export sessions: header %v, %d rows, want %d", rows[0], len(rows)-1, sum(tally.vendsProfile))
	}
	r = tvmMain(with(append([]string{"export", "approvals", "--format", "jsonl"}, period...), oscar)...)
	if n := strings.Count(r.stdout, "\n"); r.code != 0 || n != tally.approvals {
		t.Errorf("export approvals: %d lines, want %d (%s)", n, tally.approvals, r.stderr)
	}
	r = tvmMain(with(append([]string{"export", "decisions", "--decisions", logFile, "--format", "jsonl"}, period...), oscar)...)
	if n := strings.Count(r.stdout, "\n"); r.code != 0 || n != tally.decisions {
		t.Errorf("export decisions: %d lines, want %d (%s)", n, tally.decisions, r.stderr)
	}
	t.Run("chromium", func(t *testing.T) { renderInChromium(t, out) })
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}

func parseHTML(t *testing.T, page []byte) *html.Node {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// htmlTable returns the text of the cells of the table with this id, row
// by row (header included).
func htmlTable(t *testing.T, doc *html.Node, id string) [][]string {
	t.Helper()
	var table *html.Node
	var find func(*html.Node)
	find = func(n *html.Node) {
		for _, a := range n.Attr {
			if a.Key == "id" && a.Val == id {
				table = n
			}
		}
		for c := n.FirstChild; c != nil && table == nil; c = c.NextSibling {
			find(c)
		}
	}
	find(doc)
	if table == nil {
		t.Fatalf("no table %q in the report", id)
	}
	var rows [][]string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "tr" {
			var row []string
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode && (c.Data == "td" || c.Data == "th") {
					row = append(row, strings.TrimSpace(nodeText(c)))
				}
			}
			rows = append(rows, row)
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(table)
	return rows
}

func nodeText(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.Data == "br" {
			b.WriteString("\n")
		}
		b.WriteString(nodeText(c))
	}
	return b.String()
}

// countTable reads a two-column table of key and count.
func countTable(t *testing.T, doc *html.Node, id string) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, row := range htmlTable(t, doc, id)[1:] {
		m[row[0]] = atoi(t, row[1])
	}
	return m
}

// chromium is the browser the Makefile installs.
const chromium = "/usr/bin/chromium"

// renderInChromium opens the report in headless Chromium: it renders with
// no console error or exception (nothing blocked, nothing missing), and
// with SENTINEL_UPDATE_SCREENSHOTS=1 its first screen becomes
// docs/images/report.png.
func renderInChromium(t *testing.T, file string) {
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("%s is absent (the Makefile installs it): the report is not rendered in a browser", chromium)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.Headless,
		chromedp.DisableGPU, chromedp.WindowSize(1200, 1500))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx); err != nil { // start the browser
		t.Fatalf("starting %s: %v", chromium, err)
	}
	sub, stop := context.WithCancel(bctx)
	messages := chromedp.Console(sub)
	var got []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == "error" || m.Type == "warning" {
				got = append(got, m.String())
			}
		}
	}()
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate("file://"+abs), chromedp.WaitVisible("#summary")); err != nil {
		t.Fatalf("rendering the report: %v", err)
	}
	charts, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("svg").length`))
	if err != nil || charts != 6 {
		t.Errorf("the browser shows %d charts (%v), want 6", charts, err)
	}
	shot, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	pdf, err := chromedp.Run(bctx, chromedp.PrintToPDF(chromedp.PDFPrintBackground()))
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Errorf("printing the report to PDF: %v (%d bytes)", err, len(pdf))
	}
	stop()
	<-done
	for _, m := range got {
		t.Errorf("console: %s", m)
	}
	if os.Getenv("SENTINEL_UPDATE_SCREENSHOTS") == "1" {
		if err := os.WriteFile("../../docs/images/report.png", shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
