package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/sentinel-tvm/sentinel-tvm/internal/devenv"
	"github.com/sentinel-tvm/sentinel-tvm/internal/motoserver"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
)

// envRIE names the aws-lambda-rie binary; `make test` installs it.
const envRIE = "SENTINEL_TVM_RIE"

// TestBootstrapUnderRIE builds the real bootstrap, runs it under the Lambda
// Runtime Interface Emulator against moto, and sends it a real API Gateway
// REST event: the vended credentials must work against the emulator. It
// also records the cold start (process start to first answer, median of
// several starts).
func TestBootstrapUnderRIE(t *testing.T) {
	rie := os.Getenv(envRIE)
	if rie == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: run the tests with make test", envRIE)
		}
		t.Skipf("%s is not set: run the tests with make test", envRIE)
	}
	if testing.Short() {
		t.Skip("builds the bootstrap and starts the emulators")
	}
	moto := motoserver.Start(t)
	ctx := context.Background()
	env, err := devenv.Provision(ctx, devenv.Options{Endpoint: moto.URL, PoliciesDir: "../../policies"})
	if err != nil {
		t.Fatal(err)
	}
	tvm, err := env.AWS.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}

	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-trimpath", "-tags=lambda.norpc", "-ldflags=-s -w", "-o", bootstrap, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if st, err := os.Stat(bootstrap); err == nil {
		t.Logf("stripped bootstrap (%s): %.1f MiB", strings.TrimSpace(goenv(t, "GOARCH")), float64(st.Size())/(1<<20))
	}
	event, err := os.ReadFile("testdata/credentials-event.json")
	if err != nil {
		t.Fatal(err)
	}
	lambdaEnv := []string{
		"PATH=" + os.Getenv("PATH"),
		"AWS_REGION=" + env.Region,
		"AWS_ENDPOINT_URL=" + moto.URL,
		"AWS_ACCESS_KEY_ID=" + tvm.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + tvm.SecretAccessKey,
		"AWS_SESSION_TOKEN=" + tvm.SessionToken,
		"SENTINEL_TABLE_NAME=" + env.TableName,
		"SENTINEL_POLICY_PARAMETER=" + env.ParameterName,
		"SENTINEL_POLICY_SHA256=" + env.PolicySHA256,
	}

	// SENTINEL_RIE_STARTS (default 5; make bench-perf takes 21) cold
	// starts, each on a fresh emulator.
	starts := 5
	if v := os.Getenv("SENTINEL_RIE_STARTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("SENTINEL_RIE_STARTS=%q is not a positive whole number", v)
		}
		starts = n
	}
	var cold []time.Duration
	for i := range starts {
		resp, elapsed := invokeCold(t, rie, bootstrap, lambdaEnv, event)
		cold = append(cold, elapsed)
		if i > 0 {
			continue
		}
		// The first answer is checked in full.
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
		}
		var creds struct {
			Version                                   int
			AccessKeyID                               string `json:"AccessKeyId"`
			SecretAccessKey, SessionToken, Expiration string
		}
		if err := json.Unmarshal([]byte(resp.Body), &creds); err != nil || creds.Version != 1 || creds.SessionToken == "" {
			t.Fatalf("credential_process body %q (%v)", resp.Body, err)
		}
		cfg := moto.Config
		cfg.Credentials = credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
		who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if want := "arn:aws:sts::444455556666:assumed-role/prod-readonly/"; !strings.HasPrefix(aws.ToString(who.Arn), want) {
			t.Errorf("vended credentials are %s, want %s...", aws.ToString(who.Arn), want)
		}
	}

	// The schedule's event runs the approval-expiry sweep: a request that
	// expired an hour ago is stored as expired, once.
	past := time.Now().Add(-2 * time.Hour)
	st := store.NewDynamo(dynamodb.NewFromConfig(env.AWS), env.TableName, store.Options{Now: func() time.Time { return past }})
	if _, _, err := st.CreateApproval(ctx, store.ApprovalRequest{ID: "0123456789abcdef0123456789abcdef", Principal: "arn:aws:iam::111122223333:role/sre-platform",
		Profile: "prod-admin", Rule: "prod-admin-needs-approval", MinApprovals: 1, Justification: "INC-1", ExpiresAt: past.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`{"expired":1}`, `{"expired":0}`} {
		raw, _ := invokeColdRaw(t, rie, bootstrap, lambdaEnv, []byte(`{"sentinel_tvm_sweep":"approvals"}`))
		if string(raw) != want {
			t.Fatalf("sweep answered %s, want %s", raw, want)
		}
	}

	sort.Slice(cold, func(i, j int) bool { return cold[i] < cold[j] })
	t.Logf("cold start under aws-lambda-rie (process start to first answer, incl. SSM, DynamoDB and STS on moto): median %s over %d starts (min %s, max %s)",
		cold[len(cold)/2].Round(time.Millisecond), starts, cold[0].Round(time.Millisecond), cold[len(cold)-1].Round(time.Millisecond))
}

type proxyResponse struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

// invokeCold starts a fresh emulator (the bootstrap starts on the first
// invoke), sends one event and returns the answer and the time from the
// invoke to the answer: bootstrap process start, init and the request.
func invokeCold(t *testing.T, rie, bootstrap string, env []string, event []byte) (proxyResponse, time.Duration) {
	t.Helper()
	raw, elapsed := invokeColdRaw(t, rie, bootstrap, env, event)
	var out proxyResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("emulator answer %q: %v", raw, err)
	}
	return out, elapsed
}

// invokeColdRaw is invokeCold with the function's answer as it is.
func invokeColdRaw(t *testing.T, rie, bootstrap string, env []string, event []byte) ([]byte, time.Duration) {
	t.Helper()
	addr := freeAddr(t)
	var logs bytes.Buffer
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, bootstrap)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("emulator output:\n%s", logs.String())
		}
	}()
	url := "http://" + addr + "/2015-03-31/functions/function/invocations"
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emulator did not listen on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	resp, err := http.Post(url, "application/json", bytes.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	elapsed := time.Since(start)
	if strings.Contains(logs.String(), "SecretAccessKey") {
		t.Errorf("the function's output mentions SecretAccessKey")
	}
	return bytes.TrimSpace(raw), elapsed
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func goenv(t *testing.T, key string) string {
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		return fmt.Sprint(err)
	}
	return string(out)
}
