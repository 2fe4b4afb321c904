package motoserver

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// EnvServer names the environment variable holding the moto_server path.
const EnvServer = "SENTINEL_TVM_MOTO_SERVER"

// startTimeout bounds moto's start-up in tests; a cold start takes a few
// seconds on a small machine.
const startTimeout = 60 * time.Second

// Server is a moto_server started for tests.
type Server struct {
	URL    string     // endpoint, e.g. http://127.0.0.1:40123
	Config aws.Config // SDK configuration pointing every client at URL
	proc   *Process
}

// Start launches a moto_server of its own for t and stops it when t ends.
// Without SENTINEL_TVM_MOTO_SERVER it skips t, except under CI (CI set),
// where a missing emulator fails the test: CI must never skip silently.
func Start(t testing.TB) *Server {
	t.Helper()
	path := serverPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	p, err := StartProcess(ctx, path, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("motoserver: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Logf("motoserver: stop: %v", err)
		}
	})
	return newServer(p)
}

var shared struct {
	sync.Mutex
	srv *Server
	err error
}

// Shared returns one moto_server shared by every test of the test binary,
// started on first use: tests that share it must use names of their own
// (a unique table per test). The package's TestMain stops it with Main;
// without that, the kernel ends it with the test binary (on Linux).
// Skips and fails like Start.
func Shared(t testing.TB) *Server {
	t.Helper()
	path := serverPath(t)
	shared.Lock()
	defer shared.Unlock()
	if shared.srv == nil && shared.err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		p, err := StartProcess(ctx, path, "127.0.0.1:0")
		if err != nil {
			shared.err = err
		} else {
			shared.srv = newServer(p)
		}
	}
	if shared.err != nil {
		t.Fatalf("motoserver: %v", shared.err)
	}
	return shared.srv
}

// Main runs the tests and then stops the shared server, returning the exit
// code for os.Exit:
//
//	func TestMain(m *testing.M) { os.Exit(motoserver.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	shared.Lock()
	defer shared.Unlock()
	if shared.srv != nil {
		if err := shared.srv.proc.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "motoserver: stop: %v\n", err)
		}
		shared.srv = nil
	}
	return code
}

func serverPath(t testing.TB) string {
	t.Helper()
	path := os.Getenv(EnvServer)
	if path != "" {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not set: CI must run the moto integration tests (use `make test`)", EnvServer)
	}
	t.Skipf("%s is not set: run the moto integration tests with `make test`, which installs moto", EnvServer)
	return ""
}

func newServer(p *Process) *Server {
	return &Server{URL: p.URL, Config: Config(p.URL), proc: p}
}
