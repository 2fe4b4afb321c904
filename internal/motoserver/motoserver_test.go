package motoserver

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

func TestStartAnswersSDKCalls(t *testing.T) {
	srv := Start(t)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("URL = %q, want http://127.0.0.1:<port>", srv.URL)
	}
	client := dynamodb.NewFromConfig(srv.Config)
	out, err := client.ListTables(context.Background(), &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatalf("ListTables: %v", err)
	}
	if len(out.TableNames) != 0 {
		t.Fatalf("a fresh moto has tables: %v", out.TableNames)
	}
}

func TestStopEndsTheProcess(t *testing.T) {
	path := serverPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	p, err := StartProcess(ctx, path, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(time.Second):
		t.Fatal("process still running after Stop")
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestStartProcessReportsAMissingBinary(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := StartProcess(ctx, "/nonexistent/moto_server", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "start moto") {
		t.Fatalf("err = %v, want a start error", err)
	}
}

func TestStartProcessReportsEarlyExit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := StartProcess(ctx, "/bin/false", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "moto exited during start-up") {
		t.Fatalf("err = %v, want an early-exit error", err)
	}
}

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestRecordingStaysOutOfTheWorkingDirectory: moto's recorder writes
// ./moto_recording when its recording is reset; StartProcess points it at
// a temporary directory that Stop removes, so no test leaves the file in
// the clone.
func TestRecordingStaysOutOfTheWorkingDirectory(t *testing.T) {
	path := serverPath(t)
	t.Chdir(t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	p, err := StartProcess(ctx, path, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	resp, err := http.Post(p.URL+"/moto-api/recorder/reset-recording", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reset-recording answered %s", resp.Status)
	}
	if _, err := os.Stat(filepath.Join(p.tmp, "moto_recording")); err != nil {
		t.Errorf("the recording is not in moto's directory: %v", err)
	}
	if _, err := os.Stat("moto_recording"); !os.IsNotExist(err) {
		t.Errorf("moto_recording in the working directory: %v", err)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.tmp); !os.IsNotExist(err) {
		t.Errorf("Stop left %s: %v", p.tmp, err)
	}
}
