package console

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sentinel-tvm/sentinel-tvm/client"
)

// callTimeout bounds the API calls behind one page or action.
const callTimeout = 20 * time.Second

// page is what every template gets.
type page struct {
	Title     string
	Nav       string // the current section
	CSRF      string
	Me        string
	Flash     *flash
	Refreshed time.Time
	Refresh   int // seconds
	Errors    []string
	Data      any
}

func parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"ts":       func(t time.Time) string { return stamp(t) },
		"ago":      ago,
		"duration": seconds,
		"access":   accessLabel,
		"pathesc":  url.PathEscape,
		"join":     strings.Join,
		"person":   person,
	}
	out := map[string]*template.Template{}
	for _, name := range []string{"approvals", "sessions", "session", "break-glass", "profiles"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t).Round(time.Second)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func seconds(s int64) string {
	if s <= 0 {
		return "default"
	}
	d := (time.Duration(s) * time.Second).String()
	d = strings.TrimSuffix(d, "0s")
	if strings.HasSuffix(d, "h0m") {
		d = strings.TrimSuffix(d, "0m")
	}
	return d
}

func accessLabel(a string) string {
	switch a {
	case client.AccessAllow:
		return "Allowed"
	case client.AccessRequireApproval:
		return "Needs approval"
	case client.AccessBreakGlass:
		return "Break-glass only"
	}
	return a
}

// person is a principal with its trusted user.
func person(principal, user string) string {
	if user == "" {
		return principal
	}
	return user + " (" + principal + ")"
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, p page) {
	p.CSRF = s.csrfToken()
	p.Me = s.o.Me
	p.Refreshed = s.o.Now()
	p.Refresh = int(s.o.Refresh / time.Second)
	if id := r.URL.Query().Get("flash"); id != "" {
		p.Flash = s.getFlash(id)
	}
	var buf bytes.Buffer
	if err := s.tmpl[name].Execute(&buf, p); err != nil {
		s.o.Log.Error("console template", "page", name, "error", err.Error())
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

func errText(err error) string {
	f := refusal(err)
	if f.Code != "" {
		return f.Code + ": " + f.Text
	}
	return f.Text
}

// --- approvals ---

type approvalRow struct {
	client.Approval
	Mine bool
}

type approvalsData struct {
	Now      time.Time
	Waiting  []approvalRow // pending, not mine (or everyone's when Me is unknown)
	Mine     []approvalRow // pending, mine
	Decided  []approvalRow
	KnownMe  bool
	Requests int
}

func (s *Server) mine(a client.Approval) bool {
	me, ok := parseMe(s.o.Me)
	if !ok {
		return false
	}
	return a.Requester == me.principal && (a.RequesterUser == "" || a.RequesterUser == me.session)
}

type meInfo struct{ principal, session string }

// parseMe turns a caller ARN into the principal the service records (the
// role for a role session) and the session name.
func parseMe(arn string) (meInfo, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return meInfo{}, false
	}
	if rest, ok := strings.CutPrefix(parts[5], "assumed-role/"); ok && parts[2] == "sts" {
		role, session, ok := strings.Cut(rest, "/")
		if !ok {
			return meInfo{}, false
		}
		return meInfo{principal: "arn:" + parts[1] + ":iam::" + parts[4] + ":role/" + role, session: session}, true
	}
	return meInfo{principal: arn}, true
}

func (s *Server) approvalsPage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	p := page{Title: "Approvals", Nav: "approvals"}
	d := approvalsData{Now: s.o.Now()}
	_, d.KnownMe = parseMe(s.o.Me)
	list, err := s.o.API.ListApprovals(ctx, "")
	if err != nil {
		p.Errors = append(p.Errors, "Approvals could not be listed: "+errText(err))
	}
	for _, a := range list {
		row := approvalRow{Approval: a, Mine: s.mine(a)}
		switch {
		case a.Status != client.ApprovalPending:
			d.Decided = append(d.Decided, row)
		case row.Mine:
			d.Mine = append(d.Mine, row)
		default:
			d.Waiting = append(d.Waiting, row)
		}
	}
	p.Data = d
	s.render(w, r, "approvals", p)
}

// approvalAction is POST /approvals/{id}/{approve|deny|cancel}; the
// approve and deny buttons share one form (its "decision" field).
func (s *Server) approvalAction(w http.ResponseWriter, r *http.Request, rest string) {
	id, action, ok := strings.Cut(rest, "/")
	if !ok || id == "" || strings.Contains(action, "/") {
		http.NotFound(w, r)
		return
	}
	if action == "decide" {
		action = r.PostForm.Get("decision")
	}
	comment := strings.TrimSpace(r.PostForm.Get("comment"))
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	var a *client.Approval
	var err error
	var verb string
	switch action {
	case "approve":
		verb = "approved"
		a, err = s.o.API.Approve(ctx, id, comment)
	case "deny":
		verb = "denied"
		a, err = s.o.API.Deny(ctx, id, comment)
	case "cancel":
		verb = "cancelled"
		a, err = s.o.API.Cancel(ctx, id, comment)
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.redirect(w, r, "/approvals", refusal(err))
		return
	}
	f := flash{OK: true, Text: fmt.Sprintf("You %s request %s (%s for %s); it is now %s.", verb, a.ApprovalID, person(a.Requester, a.RequesterUser), a.Profile, a.Status)}
	if a.Status == client.ApprovalApproved {
		f.Hint = "The requester vends with: sentinel-tvm credentials --profile " + a.Profile + " --approval-id " + a.ApprovalID
	}
	s.redirect(w, r, "/approvals", f)
}

// requestApproval is POST /approvals from the Profiles page.
func (s *Server) requestApproval(w http.ResponseWriter, r *http.Request) {
	prof := strings.TrimSpace(r.PostForm.Get("profile"))
	just := strings.TrimSpace(r.PostForm.Get("justification"))
	dur, err := parseDuration(r.PostForm.Get("duration"))
	if err != nil {
		s.redirect(w, r, "/profiles", flash{Code: "invalid_request", Text: err.Error()})
		return
	}
	if just == "" {
		s.redirect(w, r, "/profiles", flash{Code: "invalid_request", Text: "a justification is required"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	a, err := s.o.API.CreateApproval(ctx, client.CreateApprovalRequest{Profile: prof, Justification: just, DurationSeconds: dur})
	if err != nil {
		s.redirect(w, r, "/profiles", refusal(err))
		return
	}
	s.redirect(w, r, "/approvals", flash{OK: true, Text: fmt.Sprintf("Approval requested for %s: request %s is %s.", a.Profile, a.ApprovalID, a.Status),
		Hint: "Once approved: sentinel-tvm credentials --profile " + a.Profile + " --approval-id " + a.ApprovalID})
}

// parseDuration reads an optional duration field (30m, 1h) in seconds.
func parseDuration(v string) (int64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d%time.Second != 0 {
		return 0, fmt.Errorf("duration %q is not a positive duration such as 30m or 1h", v)
	}
	return int64(d / time.Second), nil
}

// --- sessions ---

type sessionsData struct {
	Now                   time.Time
	Sessions              []client.Session
	Profile, Principal    string
	Via                   string
	All                   bool
	Vias                  []string
	ProfileNames          []string
	FilteredOut, Returned int
}

func (s *Server) sessionsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := sessionsData{Now: s.o.Now(), Profile: strings.TrimSpace(q.Get("profile")), Principal: strings.TrimSpace(q.Get("principal")),
		Via: q.Get("via"), All: q.Get("all") == "1", Vias: []string{"policy", "approval", "break_glass"}}
	p := page{Title: "Sessions", Nav: "sessions"}
	if d.Via != "" && !slices.Contains(d.Vias, d.Via) {
		p.Errors = append(p.Errors, fmt.Sprintf("via %q is not one of %s", d.Via, strings.Join(d.Vias, ", ")))
		d.Via = ""
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	list, err := s.o.API.ListSessions(ctx, client.SessionFilter{Profile: d.Profile, Principal: d.Principal, ActiveOnly: !d.All})
	if err != nil {
		p.Errors = append(p.Errors, "Sessions could not be listed: "+errText(err))
	}
	d.Returned = len(list)
	for _, se := range list {
		if d.Via != "" && se.Via != d.Via {
			continue // the API filters by profile and principal; via here
		}
		d.Sessions = append(d.Sessions, se)
	}
	d.FilteredOut = d.Returned - len(d.Sessions)
	p.Data = d
	s.render(w, r, "sessions", p)
}

type sessionData struct {
	Now     time.Time
	Session *client.Session
}

func (s *Server) sessionPage(w http.ResponseWriter, r *http.Request, id string) {
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	p := page{Title: "Session " + id, Nav: "sessions"}
	se, err := s.o.API.GetSession(ctx, id)
	if err != nil {
		p.Errors = append(p.Errors, "Session "+id+" could not be read: "+errText(err))
	}
	p.Data = sessionData{Now: s.o.Now(), Session: se}
	s.render(w, r, "session", p)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request, id string) {
	back := "/sessions/" + url.PathEscape(id)
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	if reason == "" {
		s.redirect(w, r, back, flash{Code: "invalid_request", Text: "a reason is required"})
		return
	}
	block := 0
	if v := strings.TrimSpace(r.PostForm.Get("block_minutes")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.redirect(w, r, back, flash{Code: "invalid_request", Text: "block minutes must be a whole number of minutes"})
			return
		}
		block = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	res, err := s.o.API.Revoke(ctx, id, client.RevokeRequest{Reason: reason, BlockMinutes: block})
	if err != nil {
		s.redirect(w, r, back, refusal(err))
		return
	}
	f := flash{OK: true, Text: fmt.Sprintf("Session %s is %s (enforced by %s).", res.SessionID, res.Status, res.Enforcement)}
	if block > 0 {
		f.Hint = fmt.Sprintf("New credentials for this person and profile are refused for %d minutes.", block)
	}
	s.redirect(w, r, back, f)
}

// --- break-glass ---

type breakGlassData struct {
	Now      time.Time
	Active   []client.BreakGlassEvent
	Others   []client.BreakGlassEvent
	Profiles []client.Profile // those the operator may open break-glass on
}

func (s *Server) breakGlassPage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	p := page{Title: "Break-glass", Nav: "break-glass"}
	d := breakGlassData{Now: s.o.Now()}
	events, err := s.o.API.ListBreakGlass(ctx, false)
	if err != nil {
		p.Errors = append(p.Errors, "Break-glass events could not be listed: "+errText(err))
	}
	for _, e := range events {
		if e.Status == "active" {
			d.Active = append(d.Active, e)
		} else {
			d.Others = append(d.Others, e)
		}
	}
	profiles, err := s.o.API.Profiles(ctx)
	if err != nil {
		p.Errors = append(p.Errors, "Profiles could not be listed: "+errText(err))
	}
	for _, pr := range profiles {
		if len(pr.ReasonCodes) > 0 {
			d.Profiles = append(d.Profiles, pr)
		}
	}
	p.Data = d
	s.render(w, r, "break-glass", p)
}

func (s *Server) openBreakGlass(w http.ResponseWriter, r *http.Request) {
	prof := strings.TrimSpace(r.PostForm.Get("profile"))
	code := r.PostForm.Get("reason_code")
	just := r.PostForm.Get("justification")
	dur, err := parseDuration(r.PostForm.Get("duration"))
	if err != nil {
		s.redirect(w, r, "/break-glass", flash{Code: "invalid_request", Text: err.Error()})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	// The same checks as the service, from what it says of the profile,
	// so a mistake is explained before the call; the service checks again.
	profiles, err := s.o.API.Profiles(ctx)
	if err != nil {
		s.redirect(w, r, "/break-glass", refusal(err))
		return
	}
	i := slices.IndexFunc(profiles, func(p client.Profile) bool { return p.Name == prof && len(p.ReasonCodes) > 0 })
	switch {
	case i < 0:
		s.redirect(w, r, "/break-glass", flash{Code: "forbidden", Text: fmt.Sprintf("you may not open break-glass on profile %q", prof)})
		return
	case !slices.Contains(profiles[i].ReasonCodes, code):
		s.redirect(w, r, "/break-glass", flash{Code: "invalid_request", Text: fmt.Sprintf("reason code %q is not one of %s", code, strings.Join(profiles[i].ReasonCodes, ", "))})
		return
	case utf8.RuneCountInString(strings.TrimSpace(just)) < max(profiles[i].MinJustificationLength, 1):
		s.redirect(w, r, "/break-glass", flash{Code: "invalid_request", Text: fmt.Sprintf("justification must be at least %d characters", max(profiles[i].MinJustificationLength, 1))})
		return
	}
	e, err := s.o.API.OpenBreakGlass(ctx, client.BreakGlassRequest{Profile: prof, ReasonCode: code, Justification: just, DurationSeconds: dur})
	if err != nil {
		s.redirect(w, r, "/break-glass", refusal(err))
		return
	}
	s.redirect(w, r, "/break-glass", flash{OK: true, Text: fmt.Sprintf("Break-glass %s is open on %s until %s.", e.EventID, e.Profile, stamp(e.ExpiresAt)),
		Hint: "Vend with: sentinel-tvm credentials --profile " + e.Profile})
}

func (s *Server) closeBreakGlass(w http.ResponseWriter, r *http.Request, id string) {
	if id == "" || strings.Contains(id, "/") {
		http.NotFound(w, r)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	e, err := s.o.API.CloseBreakGlass(ctx, id, strings.TrimSpace(r.PostForm.Get("comment")))
	if err != nil {
		s.redirect(w, r, "/break-glass", refusal(err))
		return
	}
	s.redirect(w, r, "/break-glass", flash{OK: true, Text: fmt.Sprintf("Break-glass %s on %s is %s.", e.EventID, e.Profile, e.Status)})
}

// --- profiles ---

type profilesData struct {
	Profiles []client.Profile
}

func (s *Server) profilesPage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	p := page{Title: "Profiles", Nav: "profiles"}
	list, err := s.o.API.Profiles(ctx)
	if err != nil {
		p.Errors = append(p.Errors, "Profiles could not be listed: "+errText(err))
	}
	p.Data = profilesData{Profiles: list}
	s.render(w, r, "profiles", p)
}
