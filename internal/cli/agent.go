package cli

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sentinel-tvm/sentinel-tvm/client"
)

// The agent's defaults.
const (
	defaultListen = "127.0.0.1:0"
	agentPath     = "/credentials"
	// agentRefreshBefore: the SDKs treat credentials as stale ahead of
	// expiry (aws-sdk-go-v2's container provider 5 minutes, botocore's
	// advisory refresh 15): refreshing 15 minutes ahead means they never
	// see stale credentials from the agent on a 1h session.
	agentRefreshBefore  = 15 * time.Minute
	agentMinBackoff     = 5 * time.Second
	agentMaxBackoff     = time.Minute
	containerURIVar     = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
	containerTokenVar   = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
	agentShutdownPeriod = 5 * time.Second
)

type agentOptions struct {
	vendOptions
	listen string
}

func agentCommand() *cobra.Command {
	var o agentOptions
	cmd := &cobra.Command{
		Use:   "agent --url URL --profile P [--duration D] [--listen 127.0.0.1:0]",
		Short: "Serve a profile's credentials to SDKs on loopback, refreshed before they expire",
		Long: `Agent vends a profile's credentials through the TVM and serves them on a
loopback address with the SDK container-credentials contract, refreshing them
15 minutes before they expire (half-way through shorter sessions; backing off on failure, serving the current
credentials until they expire). Every request must carry a random token,
generated at start, in its Authorization header.

It prints the two variables every AWS SDK and the AWS CLI read:

  export AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:PORT/credentials
  export AWS_CONTAINER_AUTHORIZATION_TOKEN=...

so eval "$(sentinel-tvm agent ... &)" or a supervisor can hand them on; the
SDKs use them when no other credentials (AWS_ACCESS_KEY_ID, a profile with
keys) come first. It stops on SIGINT or SIGTERM.`,
		Example: `  sentinel-tvm agent --url $URL --profile dev-readonly`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runAgent(ctx, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.register(cmd.Flags())
	cmd.Flags().StringVar(&o.listen, "listen", defaultListen, "loopback HOST:PORT to serve on (port 0 picks a free one)")
	return cmd
}

// loopbackListen checks that addr is a loopback HOST:PORT ("localhost"
// means 127.0.0.1): the credentials never leave the machine.
func loopbackListen(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", usagef("--listen %q is not HOST:PORT", addr)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return "", usagef("--listen %q is not a loopback address (127.0.0.1, ::1 or localhost): the agent serves credentials to this machine only", addr)
	}
	return net.JoinHostPort(ip.String(), port), nil
}

func runAgent(ctx context.Context, o agentOptions, stdout, stderr io.Writer) error {
	if err := o.check(); err != nil {
		return err
	}
	listen, err := loopbackListen(o.listen)
	if err != nil {
		return err
	}
	c, err := o.newClientAs(client.ModeAgent)
	if err != nil {
		return err
	}
	a, err := newAgent(agentVend(c, o.vendOptions), stderr)
	if err != nil {
		return err
	}
	srv, err := a.start(ctx, listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "export %s=%s\nexport %s=%s\n", containerURIVar, srv.uri, containerTokenVar, a.token)
	fmt.Fprintf(stderr, "sentinel-tvm: serving profile %s on %s until interrupted\n", o.profile, srv.uri)
	<-ctx.Done()
	srv.stop()
	return nil
}

// agentVend vends one set of credentials for the agent.
func agentVend(c *client.Client, o vendOptions) func(context.Context) (client.SessionCredentials, error) {
	return func(ctx context.Context) (client.SessionCredentials, error) {
		resp, err := c.Credentials(ctx, o.request(), client.FormatNative)
		if err != nil {
			return client.SessionCredentials{}, err
		}
		return resp.Credentials, nil
	}
}

// agent holds the current credentials, refreshes them and serves them.
type agent struct {
	vend          func(context.Context) (client.SessionCredentials, error)
	token         string
	log           io.Writer
	now           func() time.Time
	refreshBefore time.Duration
	minBackoff    time.Duration
	maxBackoff    time.Duration

	mu       sync.RWMutex
	creds    client.SessionCredentials
	issued   time.Time
	lastErr  string // the last refresh failure, for the answer once expired
	refreshd int    // refreshes so far (tests)
}

func newAgent(vend func(context.Context) (client.SessionCredentials, error), log io.Writer) (*agent, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	return &agent{vend: vend, token: hex.EncodeToString(b[:]), log: log, now: time.Now,
		refreshBefore: agentRefreshBefore, minBackoff: agentMinBackoff, maxBackoff: agentMaxBackoff}, nil
}

// agentServer is a started agent.
type agentServer struct {
	uri  string
	stop func() // stops serving and refreshing; waits for both
}

// start vends the first credentials (a refusal ends it there), then serves
// on listen and refreshes until ctx ends or stop is called.
func (a *agent) start(ctx context.Context, listen string) (*agentServer, error) {
	creds, err := a.vend(ctx)
	if err != nil {
		return nil, refusal(err)
	}
	a.set(creds)
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, failf("listen on %s: %v", listen, err)
	}
	srv := &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); srv.Serve(ln) }()
	go func() { defer wg.Done(); a.refresh(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			shut, done := context.WithTimeout(context.Background(), agentShutdownPeriod)
			defer done()
			srv.Shutdown(shut)
			wg.Wait()
		})
	}
	return &agentServer{uri: "http://" + ln.Addr().String() + agentPath, stop: stop}, nil
}

func (a *agent) set(c client.SessionCredentials) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.creds, a.issued, a.lastErr = c, a.now(), ""
}

// refreshAt is when to replace the current credentials: refreshBefore
// ahead of expiry, or half-way through a lifetime shorter than twice that.
func (a *agent) refreshAt() time.Time {
	a.mu.RLock()
	defer a.mu.RUnlock()
	ahead := min(a.refreshBefore, a.creds.Expiration.Sub(a.issued)/2)
	return a.creds.Expiration.Add(-ahead)
}

// refresh replaces the credentials before they expire until ctx ends. A
// failure is retried with exponential backoff; the current credentials are
// served until they expire.
func (a *agent) refresh(ctx context.Context) {
	backoff := time.Duration(0)
	for {
		wait := a.refreshAt().Sub(a.now())
		if backoff > 0 {
			wait = backoff
		}
		t := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		creds, err := a.vend(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			a.set(creds)
			a.mu.Lock()
			a.refreshd++
			a.mu.Unlock()
			backoff = 0
			fmt.Fprintf(a.log, "sentinel-tvm: refreshed credentials; they expire at %s\n", creds.Expiration.UTC().Format(time.RFC3339))
			continue
		}
		backoff = min(max(backoff*2, a.minBackoff), a.maxBackoff)
		var e *client.Error
		if errors.As(err, &e) && e.RetryAfter > backoff {
			backoff = e.RetryAfter
		}
		line := refusal(err).line
		a.mu.Lock()
		a.lastErr = line
		expires := a.creds.Expiration
		a.mu.Unlock()
		fmt.Fprintf(a.log, "sentinel-tvm: refreshing credentials failed: %s; retrying in %s (the current ones expire at %s)\n",
			line, backoff, expires.UTC().Format(time.RFC3339))
	}
}

// containerCredentials is the SDK container-credentials answer.
type containerCredentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	Expiration      string `json:"Expiration"`
}

// ServeHTTP answers GET /credentials with the token; the SDKs read the
// error body's code and message.
func (a *agent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err != nil || !net.ParseIP(host).IsLoopback() {
		agentError(w, http.StatusForbidden, "AccessDenied", "only local clients may ask")
		return
	}
	if r.URL.Path != agentPath {
		agentError(w, http.StatusNotFound, "NotFound", "the credentials are at "+agentPath)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		agentError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "use GET")
		return
	}
	got := r.Header.Get("Authorization")
	if got == "" {
		agentError(w, http.StatusUnauthorized, "Unauthorized", "the Authorization header must hold "+containerTokenVar)
		return
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(a.token)) != 1 {
		agentError(w, http.StatusForbidden, "AccessDenied", "wrong authorization token")
		return
	}
	a.mu.RLock()
	c, lastErr := a.creds, a.lastErr
	a.mu.RUnlock()
	if !a.now().Before(c.Expiration) {
		msg := "the credentials expired and could not be refreshed"
		if lastErr != "" {
			msg += ": " + lastErr
		}
		agentError(w, http.StatusServiceUnavailable, "CredentialsExpired", msg)
		return
	}
	json.NewEncoder(w).Encode(containerCredentials{
		AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, Token: c.SessionToken,
		Expiration: c.Expiration.UTC().Format(time.RFC3339),
	})
}

func agentError(w http.ResponseWriter, status int, code, message string) {
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"code": code, "message": message})
}
