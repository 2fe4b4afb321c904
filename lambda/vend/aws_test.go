package vend

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/sentinel-tvm/sentinel-tvm/lambda/revoke"
)

// TestRevokerInvokeRetriesWhileBusy: the revoker function has a reserved
// concurrency of 1, so a revocation that arrives while another runs is
// throttled (429 TooManyRequestsException); the API function's Lambda
// client waits and retries instead of failing the revoke.
func TestRevokerInvokeRetriesWhileBusy(t *testing.T) {
	var calls atomic.Int32
	lambdaAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/functions/sentinel-revoker/invocations") {
			http.NotFound(w, r)
			return
		}
		if calls.Add(1) <= 4 { // more than the SDK's default 3 attempts
			w.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded","Type":"User","message":"Rate Exceeded."}`)
			return
		}
		io.WriteString(w, `{"enforcement":"session_tag","policy_name":"sentinel-tvm-revocations","statements":1,"policy_chars":180,"attempts":1}`)
	}))
	defer lambdaAPI.Close()
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "example-secret", ""),
		BaseEndpoint: aws.String(lambdaAPI.URL),
	}
	deps := NewAWSDeps(cfg, Config{RevokerFunction: "sentinel-revoker"}, slog.New(slog.DiscardHandler), io.Discard)
	res, err := deps.Revoker.Revoke(t.Context(), revoke.Request{
		RoleARN:   "arn:aws:iam::444455556666:role/prod-admin",
		SessionID: strings.Repeat("ab", 16),
		ExpiresAt: time.Now().Add(time.Hour),
	})
	if err != nil || res.Enforcement != revoke.EnforcementSessionTag {
		t.Fatalf("Revoke = %+v, %v; want session_tag after four throttles", res, err)
	}
	if n := calls.Load(); n != 5 {
		t.Errorf("%d invocations, want 5 (four throttled)", n)
	}
}
