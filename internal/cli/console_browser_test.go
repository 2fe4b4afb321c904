package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/chromedp/chromedp"

	"github.com/sentinel-tvm/sentinel-tvm/client"
	"github.com/sentinel-tvm/sentinel-tvm/internal/testutil"
)

// The browser tests drive `sentinel-tvm console` in headless Chromium
// (Debian's chromium package; `make chromium` installs it) against
// `sentinel-tvm dev` on moto. Without a browser they skip, except in CI
// (CI=true), where a missing browser fails. SENTINEL_UPDATE_SCREENSHOTS=1
// rewrites the screenshots in docs/images/.

// chromiumPath finds the browser: SENTINEL_TVM_CHROMIUM, /usr/bin/chromium,
// or chromium on PATH.
func chromiumPath(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("SENTINEL_TVM_CHROMIUM"), "/usr/bin/chromium"}
	if p, err := exec.LookPath("chromium"); err == nil {
		candidates = append(candidates, p)
	}
	for _, p := range candidates {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed, and CI=true: run `make chromium` (apt-get install chromium) before the tests")
	}
	t.Skip("chromium is not installed (make chromium installs it); skipping the browser tests")
	return ""
}

// browser starts one headless Chromium for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	opts := append(append([]chromedp.ExecAllocatorOption{}, chromedp.DefaultExecAllocatorOptions[:]...),
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("lang", "en-US"))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("starting %s: %v", path, err)
	}
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	return bctx
}

// tab opens a new tab with a time limit for everything done in it.
func tab(t *testing.T, bctx context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(bctx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancel() })
	return ctx
}

// devAPI is a signing client for one dev identity.
func devAPI(t *testing.T, d devClient, name string) *client.Client {
	t.Helper()
	creds := fileCredentials(t, d.credsFile, name)
	c, err := client.New(d.base, client.WithRegion("us-east-1"), client.WithCredentials(credentials.StaticCredentialsProvider{Value: creds}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startConsole runs `sentinel-tvm console` for a dev identity and returns
// its login URL. me is the caller ARN it knows itself as ("" : unknown).
func startConsole(t *testing.T, d devClient, name, me string) string {
	t.Helper()
	c := devAPI(t, d, name)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	o := consoleOptions{clientOptions: clientOptions{url: d.base, region: "us-east-1", mode: client.ModeConsole}, listen: "127.0.0.1:0", noBrowser: true,
		refresh: time.Second, ready: func(u string) { ready <- u },
		whoami: func(context.Context) (string, error) {
			if me == "" {
				return "", errors.New("no STS in this test")
			}
			return me, nil
		}}
	var stdout, stderr testutil.SyncBuffer
	go func() { done <- runConsole(ctx, o, c, &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("console %s: %v", name, err)
		}
	})
	select {
	case u := <-ready:
		// The URL is printed on a line of its own.
		if strings.TrimSpace(stdout.String()) != u {
			t.Fatalf("stdout %q, want the URL %q alone", stdout.String(), u)
		}
		return u
	case err := <-done:
		t.Fatalf("console %s ended: %v\n%s", name, err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("console %s did not start", name)
	}
	return ""
}

func callerOf(name string) string {
	for _, id := range lifecycleIdentities {
		if n, arn, _ := strings.Cut(id, "="); n == name {
			return arn
		}
	}
	panic(name)
}

// screenshot saves the page as docs/images/NAME.png when
// SENTINEL_UPDATE_SCREENSHOTS=1.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if len(png) < 1000 {
		t.Fatalf("screenshot %s: %d bytes", name, len(png))
	}
	if os.Getenv("SENTINEL_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	path := filepath.Join("..", "..", "docs", "images", name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("%s: %v\npage:\n%s", what, err, body)
	}
}

// submit runs steps that fill a form, clicks sel and waits for the page the
// POST leads to (its redirect), so no check reads the page before it.
func submit(t *testing.T, ctx context.Context, what, sel string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	do(t, ctx, what, steps...)
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("%s: submitting %s: %+v %v", what, sel, resp, err)
	}
}

func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests start dev on moto and Chromium")
	}
	bctx := browser(t)
	d, _ := startDev(t)
	started := time.Now()
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", d.credsFile)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))

	eveURL := startConsole(t, d, "eve", callerOf("eve"))
	eve := tab(t, bctx)
	login := func(ctx context.Context, u string) {
		t.Helper()
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(u))
		if err != nil || resp.Status != 200 {
			t.Fatalf("login %s: %v %+v", u, err, resp)
		}
	}
	login(eve, eveURL)

	// A requester asks for approval with the CLI.
	var out, errOut strings.Builder
	code := Main([]string{"request-approval", "--url", d.base, "--region", "us-east-1", "--source-profile", "bob",
		"--profile", "prod-admin", "--justification", "INC-1234: restart the API after the failed deploy", "--json"}, nil, &out, &errOut)
	if code != 0 {
		t.Fatalf("request-approval: %d %s", code, errOut.String())
	}
	var req struct {
		ApprovalID string `json:"approval_id"`
	}
	if err := json.Unmarshal([]byte(out.String()), &req); err != nil || req.ApprovalID == "" {
		t.Fatalf("request-approval printed %q", out.String())
	}
	card := "#approval-" + req.ApprovalID

	t.Run("approver sees the request appear and approves it", func(t *testing.T) {
		// The page was loaded before the request: it appears by the
		// page's own refresh.
		do(t, eve, "wait for the request", chromedp.WaitVisible(chromedp.CSS(card)))
		got := text(t, eve, card)
		for _, want := range []string{"prod-admin", "arn:aws:iam::111122223333:role/sre-platform", "INC-1234: restart the API", "prod-admin-needs-approval"} {
			if !strings.Contains(got, want) {
				t.Errorf("the card lacks %q:\n%s", want, got)
			}
		}
		refreshed := text(t, eve, "#refreshed")
		if !strings.HasPrefix(refreshed, "Updated ") {
			t.Errorf("refresh line %q", refreshed)
		}
		screenshot(t, eve, "console-approvals")
		submit(t, eve, "approve", card+" button.approve",
			chromedp.SendKeys(chromedp.CSS(card+" textarea"), "OPS-42: checked with the on-call"))
		if f := text(t, eve, "#flash"); !strings.Contains(f, "approved") || !strings.Contains(f, "--approval-id "+req.ApprovalID) {
			t.Fatalf("flash %q", f)
		}
		a, err := devAPI(t, d, "bob").GetApproval(context.Background(), req.ApprovalID)
		if err != nil || a.Status != client.ApprovalApproved || len(a.Decisions) != 1 || a.Decisions[0].Comment != "OPS-42: checked with the on-call" {
			t.Fatalf("after approving in the console: %+v %v", a, err)
		}
		// The requester now vends with the approval.
		res, err := devAPI(t, d, "bob").Credentials(context.Background(), client.CredentialsRequest{Profile: "prod-admin", ApprovalID: req.ApprovalID}, client.FormatNative)
		if err != nil || res.Decision.Via != "approval" {
			t.Fatalf("vend with the approval: %+v %v", res, err)
		}
	})

	t.Run("my own request is listed as mine and cancelable", func(t *testing.T) {
		// eve (an SSO user) may ask for prod-admin herself; her console
		// knows her and lists it apart, with cancel and no approve.
		a, err := devAPI(t, d, "eve").CreateApproval(context.Background(), client.CreateApprovalRequest{Profile: "prod-admin", Justification: "rotate the keys"})
		if err != nil {
			t.Fatal(err)
		}
		sel := "#approval-" + a.ApprovalID
		do(t, eve, "wait for my request", chromedp.WaitVisible(chromedp.CSS(`section[aria-labelledby="mine"] `+sel)))
		if n, _ := chromedp.Run(eve, chromedp.Evaluate[int](`document.querySelectorAll('`+sel+` button.approve').length`)); n != 0 {
			t.Error("my own request offers Approve")
		}
		submit(t, eve, "cancel", sel+" button",
			chromedp.SendKeys(chromedp.CSS(sel+" input[name=comment]"), "not needed"))
		if f := text(t, eve, "#flash.ok"); !strings.Contains(f, "cancelled") {
			t.Errorf("flash %q", f)
		}
		if got, err := devAPI(t, d, "eve").GetApproval(context.Background(), a.ApprovalID); err != nil || got.Status != client.ApprovalCancelled {
			t.Fatalf("after cancelling: %+v %v", got, err)
		}
	})

	t.Run("operator revokes a session and it shows as revoked", func(t *testing.T) {
		ssoAPI := devAPI(t, d, "sso")
		res, err := ssoAPI.Credentials(context.Background(), client.CredentialsRequest{Profile: "prod-readonly"}, client.FormatNative)
		if err != nil {
			t.Fatalf("sso vends prod-readonly: %v", err)
		}
		oscarURL := startConsole(t, d, "oscar", callerOf("oscar"))
		oscar := tab(t, bctx)
		login(oscar, oscarURL)
		u := strings.TrimSuffix(oscarURL[:strings.Index(oscarURL, "/login")], "/")
		do(t, oscar, "sessions filtered by profile and via",
			chromedp.Navigate(u+"/sessions?profile=prod-readonly&via=policy"),
			chromedp.WaitVisible(chromedp.CSS(`a[href="/sessions/`+res.SessionID+`"]`)))
		screenshot(t, oscar, "console-sessions")
		// The via filter leaves it out when it does not match.
		do(t, oscar, "via filter", chromedp.Navigate(u+"/sessions?profile=prod-readonly&via=break_glass"),
			chromedp.WaitVisible(chromedp.CSS("#refreshed")))
		if n, _ := chromedp.Run(oscar, chromedp.Evaluate[int](`document.querySelectorAll('a[href="/sessions/`+res.SessionID+`"]').length`)); n != 0 {
			t.Error("via=break_glass still lists a policy session")
		}
		submit(t, oscar, "revoke", `form[action$="/revoke"] button`,
			chromedp.Navigate(u+"/sessions/"+res.SessionID),
			chromedp.SendKeys(chromedp.CSS("#reason"), "laptop stolen"),
			chromedp.SendKeys(chromedp.CSS("#block"), "5"))
		if s := text(t, oscar, "#session-status"); s != "revoked" {
			t.Fatalf("status after revoking: %q", s)
		}
		screenshot(t, oscar, "console-session-revoked")
		se, err := ssoAPI.GetSession(context.Background(), res.SessionID)
		if err != nil || se.Status != "revoked" || se.RevokeReason != "laptop stolen" {
			t.Fatalf("session after the console's revoke: %+v %v", se, err)
		}
		if _, err := ssoAPI.Credentials(context.Background(), client.CredentialsRequest{Profile: "prod-readonly"}, client.FormatNative); err == nil {
			t.Error("the block minutes were not applied: the person vends again")
		}
	})

	t.Run("self-approval shows the service's refusal", func(t *testing.T) {
		bobAPI := devAPI(t, d, "bob")
		a, err := bobAPI.CreateApproval(context.Background(), client.CreateApprovalRequest{Profile: "prod-admin", Justification: "deploy the hotfix myself"})
		if err != nil {
			t.Fatal(err)
		}
		// A console that does not know its identity offers every action;
		// the service refuses the requester's own approval.
		bobURL := startConsole(t, d, "bob", "")
		bob := tab(t, bctx)
		login(bob, bobURL)
		sel := "#approval-" + a.ApprovalID
		submit(t, bob, "approve own request", sel+" button.approve", chromedp.WaitVisible(chromedp.CSS(sel)))
		f := text(t, bob, "#flash")
		if !strings.Contains(f, "forbidden") || !strings.Contains(f, "nobody approves or denies their own request") {
			t.Fatalf("refusal %q", f)
		}
		screenshot(t, bob, "console-refusal")
		if got, _ := bobAPI.GetApproval(context.Background(), a.ApprovalID); got == nil || got.Status != client.ApprovalPending {
			t.Fatalf("the request changed: %+v", got)
		}
		// Phone width: nothing wider than the screen.
		do(t, bob, "phone width", chromedp.EmulateViewport(390, 844), chromedp.Navigate(bobURL[:strings.Index(bobURL, "/login")]+"/profiles"),
			chromedp.WaitVisible(chromedp.CSS("#profile-prod-admin")))
		wide, err := chromedp.Run(bob, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		if err != nil || wide {
			t.Errorf("the profiles page is wider than a phone: %v %v", wide, err)
		}
		screenshot(t, bob, "console-profiles-phone")
	})

	t.Run("break-glass opens with the policy's reason codes", func(t *testing.T) {
		carolURL := startConsole(t, d, "carol", callerOf("carol"))
		carol := tab(t, bctx)
		login(carol, carolURL)
		base := carolURL[:strings.Index(carolURL, "/login")]
		// prod-readonly: carol has no rule for it, so break-glass is her
		// only way (for prod-admin she needs an approval instead).
		form := `form[action="/break-glass"]:has(input[value="prod-readonly"])`
		do(t, carol, "open break-glass",
			chromedp.Navigate(base+"/break-glass"),
			chromedp.WaitVisible(chromedp.CSS(form)))
		opts, err := chromedp.Run(carol, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('`+form+` select option')).map(o => o.value)`))
		if err != nil || strings.Join(opts, ",") != "incident,security,recovery" {
			t.Fatalf("reason codes %v %v", opts, err)
		}
		minLen, _ := chromedp.Run(carol, chromedp.Evaluate[string](`document.querySelector('`+form+` textarea').getAttribute('minlength')`))
		if minLen != "20" {
			t.Errorf("minlength %q, want the policy's 20", minLen)
		}
		submit(t, carol, "open", form+" button",
			chromedp.SetValue(chromedp.CSS(form+" select"), "incident"),
			chromedp.SendKeys(chromedp.CSS(form+" textarea"), "INC-4711: database primary is down"))
		if f := text(t, carol, "#flash.ok"); !strings.Contains(f, "is open on prod-readonly") {
			t.Errorf("flash %q", f)
		}
		do(t, carol, "the event is listed", chromedp.WaitVisible(chromedp.CSS(`.card[id^="event-"]`)))
		screenshot(t, carol, "console-break-glass")
	})

	t.Run("a missing or wrong token gets 403", func(t *testing.T) {
		other := startConsole(t, d, "dan", callerOf("dan"))
		base := other[:strings.Index(other, "/login")]
		ctx := tab(t, bctx)
		for _, u := range []string{base + "/approvals", base + "/login", base + "/login?token=wrong"} {
			resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(u))
			if err != nil || resp.Status != http.StatusForbidden {
				t.Errorf("%s: %+v %v, want 403", u, resp, err)
			}
		}
		// Eve's used token is refused in another browser session too.
		resp, err := http.Get(eveURL)
		if err != nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("reused login URL: %v %v", resp, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
	})

	t.Run("a cross-origin POST is refused", func(t *testing.T) {
		a, err := devAPI(t, d, "bob").CreateApproval(context.Background(), client.CreateApprovalRequest{Profile: "prod-admin", Justification: "third"})
		if err != nil && !strings.Contains(err.Error(), "pending") {
			t.Fatal(err)
		}
		list, _ := devAPI(t, d, "bob").ListApprovals(context.Background(), "pending")
		if a == nil && len(list) > 0 {
			a = &list[0]
		}
		if a == nil {
			t.Fatal("no pending request")
		}
		consoleBase := eveURL[:strings.Index(eveURL, "/login")]
		// Another page on this machine (another port is the same site, so
		// the SameSite cookie goes along): the Origin check refuses it.
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `<!doctype html><form method="post" action="%s/approvals/%s/decide">
<input name="decision" value="approve"><input name="csrf" value="guessed"><button id="go">go</button></form>`, consoleBase, a.ApprovalID)
		}))
		defer evil.Close()
		page := tab(t, bctx) // the same browser, which holds eve's console cookie
		do(t, page, "the other site", chromedp.Navigate(evil.URL))
		resp, err := chromedp.RunResponse(page, chromedp.Click(chromedp.CSS("#go")))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusForbidden {
			t.Fatalf("cross-origin form POST: %d, want 403", resp.Status)
		}
		if got, _ := devAPI(t, d, "bob").GetApproval(context.Background(), a.ApprovalID); got == nil || got.Status != client.ApprovalPending {
			t.Fatalf("the request changed: %+v", got)
		}
		// A script on that page cannot post either (no CORS, and refused).
		do(t, page, "script POST", chromedp.Navigate(evil.URL))
		status, err := chromedp.Run(page, chromedp.Evaluate[int](`fetch("`+consoleBase+`/approvals/`+a.ApprovalID+`/decide", {method: "POST", mode: "no-cors", credentials: "include",
			headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "decision=approve&csrf=x"}).then(r => r.status, e => -1)`, chromedp.EvalAwaitPromise))
		// An opaque answer (0) or a blocked one (-1): the page learns nothing.
		if err != nil || status > 0 {
			t.Errorf("script POST: %d %v", status, err)
		}
		if got, _ := devAPI(t, d, "bob").GetApproval(context.Background(), a.ApprovalID); got == nil || got.Status != client.ApprovalPending {
			t.Fatalf("the request changed: %+v", got)
		}
	})
	t.Logf("browser flows took %s after dev started", time.Since(started).Round(time.Millisecond))
}
