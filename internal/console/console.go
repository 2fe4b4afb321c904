// Package console is the operators' web console that `sentinel-tvm
// console` serves on loopback. It is only a client: every page is built
// from, and every button is, a SigV4-signed API call with the operator's
// own AWS identity, so the service decides what each person sees and does,
// exactly as for the CLI.
//
// Local-web-app safety: the server answers only on loopback and only for
// the Host it listens on (DNS rebinding); a one-time login URL with a
// random token sets a SameSite=Strict, HttpOnly session cookie; every POST
// needs the session's CSRF token and a same-origin Origin (and
// Sec-Fetch-Site); every asset is embedded, and the Content-Security-Policy
// allows nothing from another origin. See docs/console.md.
package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/client"
)

//go:embed templates/*.html static/*
var assets embed.FS

// API is the part of the Go client the console calls (*client.Client).
type API interface {
	Profiles(ctx context.Context) ([]client.Profile, error)
	ListApprovals(ctx context.Context, status string) ([]client.Approval, error)
	CreateApproval(ctx context.Context, req client.CreateApprovalRequest, opts ...client.CallOption) (*client.Approval, error)
	Approve(ctx context.Context, id, comment string, opts ...client.CallOption) (*client.Approval, error)
	Deny(ctx context.Context, id, comment string, opts ...client.CallOption) (*client.Approval, error)
	Cancel(ctx context.Context, id, comment string, opts ...client.CallOption) (*client.Approval, error)
	ListSessions(ctx context.Context, f client.SessionFilter) ([]client.Session, error)
	GetSession(ctx context.Context, id string) (*client.Session, error)
	Revoke(ctx context.Context, id string, req client.RevokeRequest, opts ...client.CallOption) (*client.Revocation, error)
	ListBreakGlass(ctx context.Context, activeOnly bool) ([]client.BreakGlassEvent, error)
	OpenBreakGlass(ctx context.Context, req client.BreakGlassRequest, opts ...client.CallOption) (*client.BreakGlassEvent, error)
	CloseBreakGlass(ctx context.Context, id, comment string, opts ...client.CallOption) (*client.BreakGlassEvent, error)
}

// Options configure a Server.
type Options struct {
	API API
	// Me is the operator's caller ARN (from STS GetCallerIdentity), used
	// only to sort "waiting for me" from "my requests"; "" when unknown
	// (then every pending request offers every action, and the service
	// refuses what is not the operator's to do).
	Me string
	// Refresh is how often pages reload their data; 0 means 15 s.
	Refresh time.Duration
	Log     *slog.Logger
	Now     func() time.Time
}

// Server is one console: one login token, one browser session.
type Server struct {
	o       Options
	cookie  string
	origins map[string]bool // http://HOST:PORT the console answers as
	hosts   map[string]bool
	tmpl    map[string]*template.Template
	static  http.Handler
	cop     *http.CrossOriginProtection

	mu        sync.Mutex
	token     string // the one-time login token; "" once used
	session   string // the cookie's value once logged in
	csrf      string
	flashes   map[string]flash
	flashSeq  []string
	loginURL  string
	listening string
}

type flash struct {
	OK   bool
	Text string
	Code string // the service's error code, for refusals
	Hint string // e.g. the CLI command to vend
}

// CookiePrefix starts the session cookie's name, which ends with the port:
// browsers share cookies between the ports of one host, and two consoles
// (two identities) must not overwrite each other's.
const CookiePrefix = "sentinel_console_"

// maxFlashes bounds the remembered results of actions.
const maxFlashes = 64

// New prepares a console for ln's address: ln must listen on a loopback
// address.
func New(o Options, ln net.Listener) (*Server, error) {
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok || !addr.IP.IsLoopback() {
		return nil, fmt.Errorf("console: %s is not a loopback TCP address", ln.Addr())
	}
	if o.Refresh <= 0 {
		o.Refresh = 15 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{o: o, origins: map[string]bool{}, hosts: map[string]bool{}, flashes: map[string]flash{}}
	port := strconv.Itoa(addr.Port)
	s.cookie = CookiePrefix + port
	hosts := []string{net.JoinHostPort(addr.IP.String(), port)}
	if addr.IP.To4() != nil && addr.IP.Equal(net.IPv4(127, 0, 0, 1)) || addr.IP.Equal(net.IPv6loopback) {
		hosts = append(hosts, net.JoinHostPort("localhost", port))
	}
	for _, h := range hosts {
		s.hosts[h] = true
		s.origins["http://"+h] = true
	}
	s.listening = hosts[0]
	var err error
	if s.token, err = random(); err != nil {
		return nil, err
	}
	s.loginURL = "http://" + s.listening + "/login?token=" + s.token
	if s.tmpl, err = parseTemplates(); err != nil {
		return nil, err
	}
	sub, _ := fs.Sub(assets, "static")
	s.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	s.cop = http.NewCrossOriginProtection()
	for o := range s.origins {
		if err := s.cop.AddTrustedOrigin(o); err != nil {
			return nil, err
		}
	}
	// Trusted origins above are the console's own: a request from any
	// other origin is refused, and the handler checks Origin again.
	s.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.deny(w, r, "cross-origin request refused")
	}))
	return s, nil
}

// CookieName is the name of this console's session cookie.
func (s *Server) CookieName() string { return s.cookie }

// LoginURL is the one-time URL that opens the console.
func (s *Server) LoginURL() string { return s.loginURL }

func random() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("console: no randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Serve serves on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(s.o.Log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ServeHTTP applies the safety checks, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin") // not no-referrer: with it, browsers send "Origin: null" on form POSTs
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")

	// DNS rebinding: a page of another site whose name now resolves to
	// 127.0.0.1 sends its own name as Host.
	if !s.hosts[r.Host] {
		s.deny(w, r, "unexpected Host header")
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		if !s.sameOrigin(r) {
			s.deny(w, r, "cross-origin request refused")
			return
		}
	default:
		h.Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/login" {
		s.login(w, r)
		return
	}
	if !s.loggedIn(r) {
		s.deny(w, r, "no console session: open the URL the console printed")
		return
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		if !s.csrfOK(r.PostForm.Get("csrf")) {
			s.deny(w, r, "missing or wrong CSRF token")
			return
		}
	}
	s.cop.Handler(http.HandlerFunc(s.route)).ServeHTTP(w, r)
}

// sameOrigin: a POST must name the console as its Origin; browsers send
// it on every POST, and Sec-Fetch-Site when they know it.
func (s *Server) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	return s.origins[r.Header.Get("Origin")]
}

func (s *Server) deny(w http.ResponseWriter, r *http.Request, why string) {
	s.o.Log.Warn("console request refused", "method", r.Method, "path", r.URL.Path, "reason", why)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintf(w, "403 Forbidden: %s\n", why)
}

// login turns the one-time token into the session cookie. A second use of
// the token, or a wrong one, is refused; a browser that already holds the
// session is sent on.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.deny(w, r, "log in with GET")
		return
	}
	if s.loggedIn(r) {
		http.Redirect(w, r, "/approvals", http.StatusSeeOther)
		return
	}
	got := r.URL.Query().Get("token")
	s.mu.Lock()
	ok := s.token != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) == 1
	if ok {
		var err1, err2 error
		s.session, err1 = random()
		s.csrf, err2 = random()
		ok = err1 == nil && err2 == nil
		s.token = ""
	}
	session := s.session
	s.mu.Unlock()
	if !ok {
		s.deny(w, r, "missing, wrong or already used login token: restart `sentinel-tvm console` for a new URL")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: session, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/approvals", http.StatusSeeOther)
}

func (s *Server) loggedIn(r *http.Request) bool {
	c, err := r.Cookie(s.cookie)
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.session != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.session)) == 1
}

func (s *Server) csrfOK(got string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.csrf != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

func (s *Server) csrfToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.csrf
}

// addFlash remembers an action's result under a random ID for the page
// the browser is sent to (and its refreshes).
func (s *Server) addFlash(f flash) string {
	id, err := random()
	if err != nil {
		return ""
	}
	id = id[:16]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flashes[id] = f
	s.flashSeq = append(s.flashSeq, id)
	if len(s.flashSeq) > maxFlashes {
		delete(s.flashes, s.flashSeq[0])
		s.flashSeq = s.flashSeq[1:]
	}
	return id
}

func (s *Server) getFlash(id string) *flash {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.flashes[id]; ok {
		return &f
	}
	return nil
}

// redirect sends the browser to path (a console path) with the result.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, path string, f flash) {
	u := &url.URL{Path: path}
	if id := s.addFlash(f); id != "" {
		u.RawQuery = url.Values{"flash": {id}}.Encode()
	}
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// refusal is the flash of a failed call: the service's code and message.
func refusal(err error) flash {
	var ce *client.Error
	if errors.As(err, &ce) {
		f := flash{Code: ce.Code, Text: ce.Message}
		if ce.RequestID != "" {
			f.Hint = "Request ID " + ce.RequestID
		}
		return f
	}
	return flash{Text: "the TVM could not be reached: " + err.Error()}
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/static/") && r.Method != http.MethodPost:
		s.static.ServeHTTP(w, r)
	case p == "/" && r.Method != http.MethodPost:
		http.Redirect(w, r, "/approvals", http.StatusSeeOther)
	case p == "/approvals":
		if r.Method == http.MethodPost {
			s.requestApproval(w, r)
			return
		}
		s.approvalsPage(w, r)
	case strings.HasPrefix(p, "/approvals/") && r.Method == http.MethodPost:
		s.approvalAction(w, r, strings.TrimPrefix(p, "/approvals/"))
	case p == "/sessions" && r.Method != http.MethodPost:
		s.sessionsPage(w, r)
	case strings.HasPrefix(p, "/sessions/"):
		rest := strings.TrimPrefix(p, "/sessions/")
		if id, ok := strings.CutSuffix(rest, "/revoke"); ok && r.Method == http.MethodPost {
			s.revoke(w, r, id)
			return
		}
		if r.Method == http.MethodPost || strings.Contains(rest, "/") {
			http.NotFound(w, r)
			return
		}
		s.sessionPage(w, r, rest)
	case p == "/break-glass":
		if r.Method == http.MethodPost {
			s.openBreakGlass(w, r)
			return
		}
		s.breakGlassPage(w, r)
	case strings.HasPrefix(p, "/break-glass/") && strings.HasSuffix(p, "/close") && r.Method == http.MethodPost:
		s.closeBreakGlass(w, r, strings.TrimSuffix(strings.TrimPrefix(p, "/break-glass/"), "/close"))
	case p == "/profiles" && r.Method != http.MethodPost:
		s.profilesPage(w, r)
	default:
		http.NotFound(w, r)
	}
}
