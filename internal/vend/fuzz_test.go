package vend_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// FuzzHandleJSON feeds arbitrary events, and arbitrary bodies and formats
// inside a real event: the handler never panics and always answers JSON,
// an error body for every error status, one decision event per request,
// and no credential material in its logs.
func FuzzHandleJSON(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, `{"profile":"dev-readonly"}`, "")
	}
	f.Add([]byte(`{}`), `{"profile":"prod-admin","approval_id":"00000001000000010000000100000001"}`, "container")
	f.Add([]byte(`null`), `{"profile":"scoped","duration_seconds":43200}`, "credential_process")
	f.Add([]byte(`[`), `{"profile":"dev-readonly","duration_seconds":9223372036854775807}`, "native")
	f.Add([]byte(`{"httpMethod":"POST","resource":"/v1/credentials","requestContext":{"identity":{"userArn":"arn:aws:sts::111122223333:assumed-role/engineer-dev/x*y"}}}`),
		`{"profile":"prod-db"}`, "json")
	f.Add([]byte(`{"requestContext":{"identity":{"userArn":"arn:aws:iam::111122223333:root"}},"httpMethod":"GET","resource":"/v1/profiles"}`), ``, "")

	valid, err := os.ReadFile("testdata/credentials-native.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte, body, format string) {
		h := newHarness(t)
		// The raw event as it is.
		resp, err := h.svc.HandleJSON(context.Background(), raw)
		checkFuzzAnswer(t, resp, err)
		// The body and format inside a valid event.
		var e event
		if err := json.Unmarshal(valid, &e); err != nil {
			t.Fatal(err)
		}
		e.body(body)
		if format != "" {
			e.query("format", format)
		}
		resp, err = h.svc.HandleJSON(context.Background(), e.raw(t))
		checkFuzzAnswer(t, resp, err)
		checkDecisionEvents(t, h.logs.String(), 2)
		checkNoSecrets(t, h.logs.String(), h.metrics.String())
		checkEMF(t, h.metrics.String())
	})
}

func checkFuzzAnswer(t *testing.T, resp vend.Response, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("HandleJSON returned an error: %v", err)
	}
	r := decodeResponse(t, resp)
	switch {
	case r.StatusCode == 200:
		if _, ok := r.JSON["error"]; ok {
			t.Errorf("200 with an error body: %s", r.Body)
		}
	case r.Err == nil:
		t.Errorf("status %d without an error body: %s", r.StatusCode, r.Body)
	}
}
