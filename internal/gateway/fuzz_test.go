package gateway

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzVerify feeds arbitrary headers, targets and bodies to the verifier:
// it must never panic, must fail with an *AuthError carrying a client
// message and no secret, and must leave the body readable.
func FuzzVerify(f *testing.F) {
	good := signed(f, req{method: http.MethodPost, target: "http://tvm.local:8080/v1/credentials?format=native", body: `{"profile":"dev"}`,
		header: map[string]string{"Content-Type": "application/json"}})
	f.Add(good.Host, good.URL.RequestURI(), good.Header.Get("Authorization"), good.Header.Get("X-Amz-Date"),
		good.Header.Get("X-Amz-Security-Token"), "", "application/json", []byte(`{"profile":"dev"}`))
	f.Add("tvm.local", "/", "", "", "", "", "", []byte(nil))
	f.Add("tvm.local", "/v1/x", "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host;x-amz-date, Signature=00", "20240304T191517Z", "", "", "", []byte("x"))
	f.Add("tvm.local", "/v1/x", "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20240304/us-east-1/execute-api/aws4_request,SignedHeaders=;;;,Signature=", "2024", "t", "zz", "", []byte{0xff})
	f.Add("[::1]:80", "/%zz?%%=&&", "AWS4-HMAC-SHA256 Credential==,SignedHeaders==,Signature==", "20240304T191517Z", "", "", "", []byte{})
	f.Add("h", "/v1/a%2Fb", "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20240304/us-east-1/execute-api/aws4_request, SignedHeaders=content-length;host;user-agent;x-amz-date, Signature=ab", "20240304T191517Z", "", "", "", []byte("abc"))

	v := testVerifier()
	f.Fuzz(func(t *testing.T, host, target, auth, amzDate, token, contentSHA, contentType string, body []byte) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			u = &url.URL{Path: "/"}
		}
		r := &http.Request{
			Method: http.MethodPost, URL: u, Host: host, Proto: "HTTP/1.1",
			Header:        http.Header{},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
		}
		for k, v := range map[string]string{"Authorization": auth, "X-Amz-Date": amzDate, "X-Amz-Security-Token": token,
			"X-Amz-Content-Sha256": contentSHA, "Content-Type": contentType} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}

		id, err := v.Verify(r)

		if rest, _ := io.ReadAll(r.Body); !bytes.Equal(rest, body) && !(err != nil && len(body) > DefaultVerifierMaxBody) {
			t.Errorf("body after Verify = %q, want %q", rest, body)
		}
		if err == nil {
			if id.AccessKey != longKey && id.AccessKey != tempKey {
				t.Errorf("accepted unknown key %q", id.AccessKey)
			}
			return
		}
		var ae *AuthError
		if !errors.As(err, &ae) || ae.Message == "" || ae.Code == "" {
			t.Fatalf("err = %#v, want *AuthError with code and message", err)
		}
		for _, s := range []string{longSecret, tempSecret, tempToken} {
			if strings.Contains(ae.Error()+ae.Message, s) {
				t.Errorf("error leaks a secret: %q / %q", ae.Error(), ae.Message)
			}
		}
	})
}
