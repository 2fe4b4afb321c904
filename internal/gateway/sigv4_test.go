package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testRegion = "us-east-1"
	longKey    = "AKIAEXAMPLE"
	longSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	tempKey    = "ASIAEXAMPLE"
	tempSecret = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
	tempToken  = "FwoGZXIvYXdzEXAMPLETOKEN//////////wEaDExampleToken"
)

var (
	testNow   = time.Date(2024, 3, 4, 19, 15, 17, 0, time.UTC)
	longCreds = aws.Credentials{AccessKeyID: longKey, SecretAccessKey: longSecret}
	tempCreds = aws.Credentials{AccessKeyID: tempKey, SecretAccessKey: tempSecret, SessionToken: tempToken}
	alice     = SigningIdentity{
		UserARN:        "arn:aws:sts::444455556666:assumed-role/developer/alice",
		AccountID:      "444455556666",
		Caller:         "AROAEXAMPLE:alice",
		User:           "AROAEXAMPLE:alice",
		PrincipalOrgID: "o-exampleorgid",
	}
	bob = SigningIdentity{
		UserARN:   "arn:aws:iam::444455556666:user/bob",
		AccountID: "444455556666",
		Caller:    "AIDAEXAMPLEBOB",
		User:      "AIDAEXAMPLEBOB",
	}
	testStore = StaticStore{
		longKey: {Identity: bob, SecretAccessKey: longSecret},
		tempKey: {Identity: alice, SecretAccessKey: tempSecret, SessionToken: tempToken},
	}
)

func testVerifier() *Verifier {
	return &Verifier{Region: testRegion, Store: testStore, Now: func() time.Time { return testNow }}
}

// req is a request to sign: the SDK's signer signs it as a client would.
type req struct {
	method, target, body string
	header               map[string]string
	creds                aws.Credentials
	service, region      string
	at                   time.Time
	unsignedToken        bool // send the session token without signing it
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// signed returns a server-side request signed by the SDK's v4 signer.
func signed(t testing.TB, q req) *http.Request {
	t.Helper()
	if q.method == "" {
		q.method = http.MethodGet
	}
	if q.service == "" {
		q.service = "execute-api"
	}
	if q.region == "" {
		q.region = testRegion
	}
	if q.at.IsZero() {
		q.at = testNow
	}
	if q.creds.AccessKeyID == "" {
		q.creds = tempCreds
	}
	r := httptest.NewRequest(q.method, q.target, strings.NewReader(q.body))
	r.Header.Set("User-Agent", "sentinel-tvm-test/1.0")
	for k, v := range q.header {
		r.Header.Set(k, v)
	}
	err := v4.NewSigner().SignHTTP(context.Background(), q.creds, r, hashHex(q.body), q.service, q.region, q.at,
		func(o *v4.SignerOptions) { o.DisableSessionToken = q.unsignedToken })
	if err != nil {
		t.Fatal(err)
	}
	if q.unsignedToken && q.creds.SessionToken != "" {
		r.Header.Set("X-Amz-Security-Token", q.creds.SessionToken)
	}
	return r
}

// authCase is one request and the verification outcome it must get; the
// handler test runs the same table through the HTTP gateway.
type authCase struct {
	name     string
	req      func(t testing.TB) *http.Request
	want     SigningIdentity // when wantCode is ""
	wantCode string
	wantMsg  string
}

func authCases() []authCase {
	aliceKey := alice
	aliceKey.AccessKey = tempKey
	bobKey := bob
	bobKey.AccessKey = longKey
	const credURL = "http://tvm.local:8080/v1/credentials?format=native"
	body := `{"profile":"prod-admin"}`
	ok := func(q req) func(t testing.TB) *http.Request {
		return func(t testing.TB) *http.Request { return signed(t, q) }
	}
	tamper := func(q req, f func(r *http.Request)) func(t testing.TB) *http.Request {
		return func(t testing.TB) *http.Request {
			r := signed(t, q)
			f(r)
			return r
		}
	}
	withAuth := func(auth string) func(t testing.TB) *http.Request {
		return tamper(req{target: "http://tvm.local:8080/v1/profiles"}, func(r *http.Request) { r.Header.Set("Authorization", auth) })
	}
	post := req{method: http.MethodPost, target: credURL, body: body, header: map[string]string{"Content-Type": "application/json"}}
	return []authCase{
		{name: "temporary credentials, token signed", req: ok(post), want: aliceKey},
		{name: "temporary credentials, token present but unsigned", req: ok(req{method: http.MethodPost, target: credURL, body: body, unsignedToken: true}), want: aliceKey},
		{name: "long-term key, GET with query", req: ok(req{target: "http://tvm.local:8080/v1/sessions?profile=prod&active=true", creds: longCreds}), want: bobKey},
		{name: "escaped path", req: ok(req{target: "http://tvm.local:8080/v1/sessions/a%20b%2Fc", creds: longCreds}), want: bobKey},
		{name: "x-amz-content-sha256 signed", req: ok(req{method: http.MethodPost, target: credURL, body: body, header: map[string]string{"X-Amz-Content-Sha256": hashHex(body)}}), want: aliceKey},
		{name: "signed 4 minutes ago", req: ok(req{target: credURL, at: testNow.Add(-4 * time.Minute)}), want: aliceKey},
		{name: "signed 4 minutes ahead", req: ok(req{target: credURL, at: testNow.Add(4 * time.Minute)}), want: aliceKey},

		{name: "missing auth", req: func(t testing.TB) *http.Request { return httptest.NewRequest("GET", credURL, nil) },
			wantCode: CodeMissingToken, wantMsg: "Missing Authentication Token"},
		{name: "not sigv4", req: withAuth("Bearer abc"), wantCode: CodeIncompleteSignature,
			wantMsg: "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter."},
		{name: "no signature", req: withAuth("AWS4-HMAC-SHA256 Credential=" + tempKey + "/20240304/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date"),
			wantCode: CodeIncompleteSignature, wantMsg: "Authorization header requires 'Signature' parameter."},
		{name: "no x-amz-date", req: tamper(post, func(r *http.Request) { r.Header.Del("X-Amz-Date") }), wantCode: CodeIncompleteSignature,
			wantMsg: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."},
		{name: "malformed credential", req: withAuth("AWS4-HMAC-SHA256 Credential=" + tempKey + "/20240304, SignedHeaders=host;x-amz-date, Signature=00"),
			wantCode: CodeIncompleteSignature, wantMsg: "Authorization header requires 'Credential' parameter."},
		{name: "unsigned host", req: withAuth("AWS4-HMAC-SHA256 Credential=" + tempKey + "/20240304/us-east-1/execute-api/aws4_request, SignedHeaders=x-amz-date;x-amz-security-token, Signature=00"),
			wantCode: CodeIncompleteSignature, wantMsg: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "unsigned x-amz-date", req: withAuth("AWS4-HMAC-SHA256 Credential=" + tempKey + "/20240304/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=00"),
			wantCode: CodeIncompleteSignature, wantMsg: "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "wrong region", req: ok(req{target: credURL, region: "eu-west-1"}), wantCode: CodeInvalidScope,
			wantMsg: "Credential should be scoped to a valid region, not 'eu-west-1'."},
		{name: "wrong service", req: ok(req{target: credURL, service: "lambda"}), wantCode: CodeInvalidScope,
			wantMsg: "Credential should be scoped to correct service: 'execute-api'."},
		{name: "scope date differs from x-amz-date", req: tamper(post, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20240304/", "/20240303/", 1))
		}), wantCode: CodeInvalidScope,
			wantMsg: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20240303' != '20240304', from '20240304T191517Z'."},
		{name: "expired date", req: ok(req{target: credURL, at: testNow.Add(-6 * time.Minute)}), wantCode: CodeExpired,
			wantMsg: "Signature expired: 20240304T190917Z is now earlier than 20240304T191017Z (20240304T191517Z - 5 min.)"},
		{name: "future date", req: ok(req{target: credURL, at: testNow.Add(6 * time.Minute)}), wantCode: CodeExpired,
			wantMsg: "Signature not yet current: 20240304T192117Z is still later than 20240304T192017Z (20240304T191517Z + 5 min.)"},
		{name: "unknown key", req: ok(req{target: credURL, creds: aws.Credentials{AccessKeyID: "AKIAUNKNOWN", SecretAccessKey: longSecret}}),
			wantCode: CodeInvalidToken, wantMsg: MsgInvalidToken},
		{name: "bad session token", req: ok(req{target: credURL, creds: aws.Credentials{AccessKeyID: tempKey, SecretAccessKey: tempSecret, SessionToken: "forged"}}),
			wantCode: CodeInvalidToken, wantMsg: MsgInvalidToken},
		{name: "session token missing", req: tamper(req{target: credURL, unsignedToken: true}, func(r *http.Request) { r.Header.Del("X-Amz-Security-Token") }),
			wantCode: CodeInvalidToken, wantMsg: MsgInvalidToken},
		{name: "session token with long-term key", req: ok(req{target: credURL, creds: aws.Credentials{AccessKeyID: longKey, SecretAccessKey: longSecret, SessionToken: tempToken}}),
			wantCode: CodeInvalidToken, wantMsg: MsgInvalidToken},
		{name: "wrong secret", req: ok(req{target: credURL, creds: aws.Credentials{AccessKeyID: longKey, SecretAccessKey: tempSecret}}),
			wantCode: CodeSignatureMismatch, wantMsg: MsgSignatureMismatch},
		{name: "tampered body", req: tamper(post, func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(`{"profile":"prod-admim"}`))
		}), wantCode: CodeSignatureMismatch, wantMsg: MsgSignatureMismatch},
		{name: "tampered body, stale x-amz-content-sha256", req: tamper(req{method: http.MethodPost, target: credURL, body: body, header: map[string]string{"X-Amz-Content-Sha256": hashHex(body)}}, func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(`{"profile":"prod-admim"}`))
		}), wantCode: CodeSignatureMismatch, wantMsg: MsgSignatureMismatch},
		{name: "tampered signed header", req: tamper(post, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }),
			wantCode: CodeSignatureMismatch, wantMsg: MsgSignatureMismatch},
		{name: "signed header removed", req: tamper(post, func(r *http.Request) { r.Header.Del("Content-Type") }),
			wantCode: CodeSignatureMismatch, wantMsg: MsgSignatureMismatch},
		{name: "tampered query", req: tamper(req{target: credURL}, func(r *http.Request) { r.URL.RawQuery = "format=container" }),
			wantCode: CodeSignatureMismatch, wantMsg: MsgSignatureMismatch},
		{name: "tampered path", req: tamper(req{target: "http://tvm.local:8080/v1/sessions/s1"}, func(r *http.Request) { r.URL.Path = "/v1/sessions/s2" }),
			wantCode: CodeSignatureMismatch, wantMsg: MsgSignatureMismatch},
		{name: "tampered method", req: tamper(req{target: "http://tvm.local:8080/v1/sessions/s1"}, func(r *http.Request) { r.Method = http.MethodDelete }),
			wantCode: CodeSignatureMismatch, wantMsg: MsgSignatureMismatch},
		{name: "tampered host", req: tamper(req{target: credURL}, func(r *http.Request) { r.Host = "evil.local:8080" }),
			wantCode: CodeSignatureMismatch, wantMsg: MsgSignatureMismatch},
		{name: "tampered signature", req: tamper(req{target: credURL}, func(r *http.Request) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:len(a)-4]+"0000")
		}), wantCode: CodeSignatureMismatch, wantMsg: MsgSignatureMismatch},
	}
}

func TestVerify(t *testing.T) {
	for _, tc := range authCases() {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req(t)
			sig := r.Header.Get("Authorization")
			if _, s, ok := strings.Cut(sig, "Signature="); ok {
				sig = s
			}
			wantBody := ""
			if r.Body != nil {
				b, _ := io.ReadAll(r.Body)
				wantBody = string(b)
				r.Body = io.NopCloser(strings.NewReader(wantBody))
			}

			got, err := testVerifier().Verify(r)

			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got != tc.want {
					t.Errorf("identity = %+v, want %+v", got, tc.want)
				}
				b, _ := io.ReadAll(r.Body)
				if string(b) != wantBody {
					t.Errorf("body after Verify = %q, want %q", b, wantBody)
				}
				return
			}
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want *AuthError", err)
			}
			if ae.Code != tc.wantCode || ae.Message != tc.wantMsg {
				t.Errorf("got (%s, %q), want (%s, %q); detail %q", ae.Code, ae.Message, tc.wantCode, tc.wantMsg, ae.Detail)
			}
			if got != (SigningIdentity{}) {
				t.Errorf("identity on failure = %+v", got)
			}
			for _, secret := range []string{longSecret, tempSecret, tempToken, sig} {
				if len(secret) > 8 && strings.Contains(ae.Error()+ae.Message, secret) {
					t.Errorf("error %q / %q leaks %q", ae.Error(), ae.Message, secret)
				}
			}
		})
	}
}

// TestVerifyAWSTestSuite checks requests from AWS's published SigV4 test
// suite (aws-sig-v4-test-suite, service "service", 20150830T123600Z).
func TestVerifyAWSTestSuite(t *testing.T) {
	const (
		key    = "AKIDEXAMPLE"
		secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	)
	v := &Verifier{
		Region:  "us-east-1",
		Store:   StaticStore{key: {SecretAccessKey: secret}},
		Now:     func() time.Time { return time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC) },
		service: "service",
	}
	tests := []struct {
		name, method, target, body, contentType, signedHeaders, signature string
	}{
		{"get-vanilla", "GET", "/", "", "", "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"get-vanilla-query-order-key-case", "GET", "/?Param2=value2&Param1=value1", "", "", "host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
		{"post-vanilla", "POST", "/", "", "", "host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
		{"post-x-www-form-urlencoded", "POST", "/", "Param1=value1", "application/x-www-form-urlencoded", "content-type;host;x-amz-date", "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://example.amazonaws.com"+tc.target, strings.NewReader(tc.body))
			r.Header.Set("X-Amz-Date", "20150830T123600Z")
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+key+"/20150830/us-east-1/service/aws4_request, SignedHeaders="+
				tc.signedHeaders+", Signature="+tc.signature)
			if _, err := v.Verify(r); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "Signature=", "Signature=0", 1)[:len(r.Header.Get("Authorization"))])
			if _, err := v.Verify(r); err == nil {
				t.Fatal("Verify accepted an altered signature")
			}
		})
	}
}

func TestStaticStoreLookup(t *testing.T) {
	id, secret, token, ok := testStore.Lookup(tempKey)
	if !ok || id != alice || secret != tempSecret || token != tempToken {
		t.Errorf("Lookup(%s) = %+v, %q, %q, %v", tempKey, id, secret, token, ok)
	}
	if _, _, _, ok := testStore.Lookup("AKIANOPE"); ok {
		t.Error("Lookup of an unknown key succeeded")
	}
}
