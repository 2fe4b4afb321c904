package perf

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/sentinel-tvm/sentinel-tvm/internal/latencyproxy"
	"github.com/sentinel-tvm/sentinel-tvm/internal/motoserver"
	"github.com/sentinel-tvm/sentinel-tvm/internal/testutil"
)

const region = "us-east-1"

// Dev identities, and what the example policy (policies/) lets them do.
var identities = map[string]string{
	"erin":  "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Engineering_0123abcd/erin@example.com", // prod-readonly
	"eve":   "arn:aws:sts::111122223333:assumed-role/contractor-ops/eve",                                   // denied on prod-*
	"bob":   "arn:aws:sts::111122223333:assumed-role/sre-platform/bob",                                     // prod-admin needs an approval
	"carol": "arn:aws:sts::111122223333:assumed-role/sre-oncall-primary/carol",                             // break-glass on prod-*
	"dana":  "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Security_0123abcd/dana@example.com",    // approves prod-admin
}

// loadClients is how many load identities (SSO engineers allowed
// prod-readonly) dev gets: one per concurrent client, so no two clients
// share a rate-limit window item.
const loadClients = 16

func loadName(i int) string { return fmt.Sprintf("load%02d", i) }

// dev is `sentinel-tvm dev` on its own moto behind a latency proxy.
type dev struct {
	proxy    *latencyproxy.Proxy
	motoURL  string
	proxyURL string
	url      string // the TVM
	pid      int
	creds    map[string]aws.Credentials
	stderr   *testutil.SyncBuffer
	stop     func()
	http     *http.Client
}

var shared struct {
	sync.Mutex
	d   *dev
	err error
}

// TestMain stops dev and moto after the tests.
func TestMain(m *testing.M) {
	code := func() int {
		defer func() {
			shared.Lock()
			defer shared.Unlock()
			if shared.d != nil {
				shared.d.stop()
			}
		}()
		return motoserver.Main(m)
	}()
	os.Exit(code)
}

// requirePerf skips a benchmark of this package unless SENTINEL_PERF is
// set: they take minutes and need moto, so the plain `go test -bench .
// ./...` leaves them to the line of `make bench` that sets it (and
// SENTINEL_TVM_MOTO_SERVER).
func requirePerf(b *testing.B) {
	b.Helper()
	if os.Getenv("SENTINEL_PERF") == "" {
		b.Skip("SENTINEL_PERF is not set: run with make bench (or make bench-perf)")
	}
}

// sharedDev starts moto, the proxy and `sentinel-tvm dev` once per test
// binary.
func sharedDev(tb testing.TB) *dev {
	tb.Helper()
	moto := motoserver.Shared(tb)
	shared.Lock()
	defer shared.Unlock()
	if shared.d == nil && shared.err == nil {
		shared.d, shared.err = startDev(moto.URL)
	}
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.d
}

func startDev(motoURL string) (*dev, error) {
	proxy, err := latencyproxy.New(motoURL)
	if err != nil {
		return nil, err
	}
	if spec := os.Getenv("SENTINEL_PERF_LATENCIES"); spec != "" {
		if err := proxy.ParseLatencies(spec); err != nil {
			return nil, err
		}
	}
	proxyURL, err := proxy.Start("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sentinel-perf-")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*dev, error) {
		proxy.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	bin := filepath.Join(dir, "sentinel-tvm")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "github.com/sentinel-tvm/sentinel-tvm/cmd/sentinel-tvm")
	if out, err := build.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("go build: %v\n%s", err, out))
	}
	credsFile := filepath.Join(dir, "credentials")
	args := []string{"dev", "--policies", "../../policies", "--listen", "127.0.0.1:0", "--region", region,
		"--aws-endpoint", proxyURL, "--credentials-file", credsFile, "--org-id", "o-a1b2c3d4e5"}
	names := []string{}
	for name, arn := range identities {
		args = append(args, "--identity", name+"="+arn)
		names = append(names, name)
	}
	for i := range loadClients {
		args = append(args, "--identity", loadName(i)+"=arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Engineering_0123abcd/"+loadName(i)+"@example.com")
		names = append(names, loadName(i))
	}
	cmd := exec.Command(bin, args...)
	// A clean AWS environment; a rate limit no benchmark reaches; a policy
	// cache that stays warm for the whole run.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"SENTINEL_RATE_LIMIT=100000", "SENTINEL_POLICY_CACHE_TTL=15m"}
	stderr := &testutil.SyncBuffer{Limit: 1 << 20} // dev logs a line per request; keep the tail
	cmd.Stderr = stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return fail(err)
	}
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		proxy.Close()
		os.RemoveAll(dir)
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			select {
			case line <- sc.Text():
			default:
			}
		}
	}()
	var url string
	select {
	case l := <-line:
		if !strings.HasPrefix(l, "listening on http://") {
			stop()
			return nil, fmt.Errorf("dev said %q; stderr:\n%s", l, stderr.String())
		}
		url = strings.TrimPrefix(l, "listening on ")
	case <-time.After(3 * time.Minute):
		stop()
		return nil, fmt.Errorf("dev is not listening after 3 minutes; stderr:\n%s", stderr.String())
	}
	d := &dev{proxy: proxy, motoURL: motoURL, proxyURL: proxyURL, url: url, pid: cmd.Process.Pid,
		creds: map[string]aws.Credentials{}, stderr: stderr, stop: stop,
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: time.Minute}}
	for _, name := range names {
		c, err := fileCredentials(credsFile, name)
		if err != nil {
			stop()
			return nil, err
		}
		d.creds[name] = c
	}
	return d, nil
}

// fileCredentials loads a section of the credentials file with the SDK's
// own loader.
func fileCredentials(path, name string) (aws.Credentials, error) {
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithSharedCredentialsFiles([]string{path}),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedConfigProfile(name),
		config.WithRegion(region),
	)
	if err != nil {
		return aws.Credentials{}, err
	}
	return cfg.Credentials.Retrieve(context.Background())
}

// response is an answer of the TVM.
type response struct {
	status int
	body   map[string]any
	raw    []byte
}

func (r response) str(keys ...string) string {
	var v any = r.body
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

var signer = v4.NewSigner()

// call sends a request signed for execute-api as identity who.
func (d *dev) call(who, method, path, body string) (response, error) {
	req, err := http.NewRequest(method, d.url+path, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256([]byte(body))
	if err := signer.SignHTTP(context.Background(), d.creds[who], req, hex.EncodeToString(sum[:]), "execute-api", region, time.Now()); err != nil {
		return response{}, err
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	r := response{status: resp.StatusCode, raw: raw}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		return r, fmt.Errorf("%s %s: status %d, body is not JSON: %s", method, path, resp.StatusCode, raw)
	}
	return r, nil
}

// vend asks for prod-readonly as who and checks for credentials.
func (d *dev) vend(who string) error {
	r, err := d.call(who, "POST", "/v1/credentials", `{"profile":"prod-readonly"}`)
	if err != nil {
		return err
	}
	if r.status != http.StatusOK || r.str("credentials", "SessionToken") == "" {
		return fmt.Errorf("vend as %s: %d %s", who, r.status, r.raw)
	}
	return nil
}

// rss returns the dev process's resident set and its peak (VmRSS, VmHWM
// from /proc), in bytes.
func (d *dev) rss() (cur, peak int64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(d.pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			cur = n << 10
		case "VmHWM:":
			peak = n << 10
		}
	}
	return cur, peak, nil
}
