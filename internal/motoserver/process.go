// Package motoserver runs moto, the AWS emulator, as a child process: for
// integration tests (Start, Shared) and for `sentinel-tvm dev` (StartProcess).
//
// The moto_server binary comes from the virtualenv that `make moto` creates;
// `make test` passes its path in SENTINEL_TVM_MOTO_SERVER.
package motoserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the region Config points the SDK at. moto accepts any region;
// one fixed value keeps resources where later calls look for them.
const Region = "us-east-1"

// Process is a running moto_server.
type Process struct {
	// URL is the endpoint, e.g. http://127.0.0.1:40123.
	URL string

	cmd    *exec.Cmd
	tmp    string // moto's files (its request recording), removed by Stop
	output *tailBuffer
	exited chan struct{} // closed when the process has exited
	err    error         // Wait's result, set before exited is closed

	stopOnce sync.Once
}

// StartProcess starts moto_server at path, listening on addr (host:port; port
// 0 picks a free one), and returns once it answers HTTP. ctx bounds only the
// wait for start-up; the process runs until Stop.
func StartProcess(ctx context.Context, path, addr string) (*Process, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("moto address %q: %w", addr, err)
	}
	if port == "0" || port == "" {
		if port, err = freePort(host); err != nil {
			return nil, err
		}
	}
	p := &Process{
		URL:    "http://" + net.JoinHostPort(host, port),
		output: &tailBuffer{max: 16 << 10},
		exited: make(chan struct{}),
	}
	// moto's request recorder writes ./moto_recording when asked to reset
	// it; point it at a directory of our own instead of the caller's.
	if p.tmp, err = os.MkdirTemp("", "moto-"); err != nil {
		return nil, err
	}
	p.cmd = exec.Command(path, "-H", host, "-p", port)
	p.cmd.Env = append(os.Environ(), "MOTO_RECORDER_FILEPATH="+filepath.Join(p.tmp, "moto_recording"))
	p.cmd.Stdout = p.output
	p.cmd.Stderr = p.output
	setProcessGroup(p.cmd)
	if err := p.cmd.Start(); err != nil {
		os.RemoveAll(p.tmp)
		return nil, fmt.Errorf("start moto: %w", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(ctx); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return p, nil
}

// waitReady polls until moto answers any HTTP request.
func (p *Process) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/moto-api/", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("moto exited during start-up (%v): %s", p.err, p.output.String())
		case <-ctx.Done():
			return fmt.Errorf("moto did not answer at %s: %w; output: %s", p.URL, ctx.Err(), p.output.String())
		case <-tick.C:
		}
	}
}

// Stop ends moto and every process it started, and waits for it to exit.
// It is safe to call more than once.
func (p *Process) Stop() error {
	var err error
	p.stopOnce.Do(func() {
		signalGroup(p.cmd, false)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			signalGroup(p.cmd, true)
			<-p.exited
		}
		// moto exits 0 on SIGTERM; being killed is the expected end too.
		var exit *exec.ExitError
		if p.err != nil && !errors.As(p.err, &exit) {
			err = p.err
		}
		os.RemoveAll(p.tmp)
	})
	return err
}

// Output returns the last part of what moto printed, for diagnostics.
func (p *Process) Output() string { return p.output.String() }

// Config returns an SDK configuration for moto at endpoint: static dummy
// credentials, region Region, every service's BaseEndpoint set to it, and
// an HTTP client that sends moto one request at a time.
//
// moto serves requests on threads without locking its backends: a DynamoDB
// transaction snapshots the whole table and restores it when a condition
// fails, undoing writes that other threads made meanwhile. DynamoDB itself
// applies each request to an item atomically; serialising the requests
// gives moto that property, so concurrency tests test the caller's
// conditions rather than moto's races.
func Config(endpoint string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(endpoint),
		HTTPClient:   &http.Client{Transport: serialTransport{lockFor(endpoint), http.DefaultTransport}},
	}
}

// locks holds one mutex per endpoint, shared by every Config for it.
var locks sync.Map // endpoint -> *sync.Mutex

func lockFor(endpoint string) *sync.Mutex {
	mu, _ := locks.LoadOrStore(endpoint, new(sync.Mutex))
	return mu.(*sync.Mutex)
}

// serialTransport sends one request at a time. moto answers only after it
// has applied a request, so holding the lock until the response headers
// arrive is enough.
type serialTransport struct {
	mu   *sync.Mutex
	next http.RoundTripper
}

func (t serialTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.next.RoundTrip(req)
}

// freePort asks the kernel for a free TCP port on host. Another process may
// take it before moto binds it; that shows as moto failing to start.
func freePort(host string) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
