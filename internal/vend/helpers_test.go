package vend_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
	"github.com/sentinel-tvm/sentinel-tvm/internal/testutil"
	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// The fixed facts of the fixtures.
var (
	// testNow is a Monday noon (UTC); every clock in the tests starts here.
	testNow = time.Date(2026, time.March, 2, 12, 0, 0, 0, time.UTC)

	callerARN    = "arn:aws:sts::111122223333:assumed-role/engineer-dev/alice"
	principalARN = "arn:aws:iam::111122223333:role/engineer-dev"
	approverARN  = "arn:aws:iam::111122223333:role/security-lead"
)

// Credential material the fake STS hands out: none of it may ever reach a
// log line or a metric.
const (
	fakeAccessKeyID = "ASIAFAKEACCESSKEY777"
	fakeSecretKey   = "fAkE/SeCrEt+KeY/0123456789abcdefghijklmnop"
	fakeToken       = "FwoGZXIvYXdzEFAKE-SESSION-TOKEN-NEVER-LOG-ME//0123456789"
)

// fakeKeys makes the fake STS answer the same credential material every time.
func fakeKeys(int) (string, string, string) { return fakeAccessKeyID, fakeSecretKey, fakeToken }

// ---- policy -------------------------------------------------------------

var (
	compileOnce sync.Once
	compiled    *policy.Compiled
	compileErr  error
)

// testPolicy compiles testdata/policy once per test binary.
func testPolicy(t testing.TB) *policy.Compiled {
	t.Helper()
	compileOnce.Do(func() {
		srcs, err := policy.ReadDir("testdata/policy")
		if err != nil {
			compileErr = err
			return
		}
		c, diags := policy.Compile(srcs)
		if diags.HasErrors() {
			compileErr = fmt.Errorf("compile: %s", diags.Error())
			return
		}
		compiled = c
	})
	if compileErr != nil {
		t.Fatal(compileErr)
	}
	return compiled
}

// compileHCL compiles one small policy given inline.
func compileHCL(t testing.TB, src string) *policy.Compiled {
	t.Helper()
	c, diags := policy.Compile([]policy.Source{{Name: "test.hcl", Data: []byte(src)}})
	if diags.HasErrors() {
		t.Fatalf("compile: %s", diags.Error())
	}
	return c
}

// ---- clock and IDs ------------------------------------------------------

// ids hands out 32-hex IDs 1, 2, 3, ... each written as its 8-hex counter
// four times, so a session's first 12 characters are predictable.
type ids struct {
	n   atomic.Int64
	err error
}

func (g *ids) New() (string, error) {
	if g.err != nil {
		return "", g.err
	}
	return idN(int(g.n.Add(1))), nil
}

func idN(n int) string { return strings.Repeat(fmt.Sprintf("%08x", n), 4) }

// ---- store --------------------------------------------------------------

// faultStore wraps a store, counts calls per method and fails the methods
// named in fail with their error.
type faultStore struct {
	store.Store
	mu    sync.Mutex
	calls map[string]int
	order []string
	fail  map[string]error
}

func newFaultStore(s store.Store) *faultStore {
	return &faultStore{Store: s, calls: map[string]int{}, fail: map[string]error{}}
}

func (f *faultStore) hit(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	f.order = append(f.order, op)
	return f.fail[op]
}

// Fail makes op fail with err from now on (nil clears it).
func (f *faultStore) Fail(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[op] = err
}

// Calls returns the store calls so far, in order, and forgets them.
func (f *faultStore) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.order
	f.order, f.calls = nil, map[string]int{}
	return out
}

func (f *faultStore) Vend(ctx context.Context, k store.RateKey, limit int, w time.Duration, s store.SessionRecord) error {
	if err := f.hit("Vend"); err != nil {
		return err
	}
	return f.Store.Vend(ctx, k, limit, w, s)
}

func (f *faultStore) VendApproved(ctx context.Context, k store.RateKey, limit int, w time.Duration, s store.SessionRecord) error {
	if err := f.hit("VendApproved"); err != nil {
		return err
	}
	return f.Store.VendApproved(ctx, k, limit, w, s)
}

func (f *faultStore) GetSession(ctx context.Context, id string) (store.SessionRecord, error) {
	if err := f.hit("GetSession"); err != nil {
		return store.SessionRecord{}, err
	}
	return f.Store.GetSession(ctx, id)
}

func (f *faultStore) RevokeSession(ctx context.Context, id string, r store.Revocation) (store.SessionRecord, error) {
	if err := f.hit("RevokeSession"); err != nil {
		return store.SessionRecord{}, err
	}
	return f.Store.RevokeSession(ctx, id, r)
}

func (f *faultStore) BlockVending(ctx context.Context, b store.Block) error {
	if err := f.hit("BlockVending"); err != nil {
		return err
	}
	return f.Store.BlockVending(ctx, b)
}

func (f *faultStore) DecideApproval(ctx context.Context, id string, d store.Decision) (store.ApprovalRequest, error) {
	if err := f.hit("DecideApproval"); err != nil {
		return store.ApprovalRequest{}, err
	}
	return f.Store.DecideApproval(ctx, id, d)
}

func (f *faultStore) OpenBreakGlass(ctx context.Context, e store.BreakGlassEvent) (store.BreakGlassEvent, error) {
	if err := f.hit("OpenBreakGlass"); err != nil {
		return store.BreakGlassEvent{}, err
	}
	return f.Store.OpenBreakGlass(ctx, e)
}

func (f *faultStore) GetIdempotency(ctx context.Context, principal, user, key string) (store.IdempotencyRecord, error) {
	if err := f.hit("GetIdempotency"); err != nil {
		return store.IdempotencyRecord{}, err
	}
	return f.Store.GetIdempotency(ctx, principal, user, key)
}

func (f *faultStore) PutIdempotency(ctx context.Context, r store.IdempotencyRecord) error {
	if err := f.hit("PutIdempotency"); err != nil {
		return err
	}
	return f.Store.PutIdempotency(ctx, r)
}

func (f *faultStore) CountRequest(ctx context.Context, k store.RateKey, limit int, w time.Duration) error {
	if err := f.hit("CountRequest"); err != nil {
		return err
	}
	return f.Store.CountRequest(ctx, k, limit, w)
}

func (f *faultStore) MarkSessionFailed(ctx context.Context, id, reason string) error {
	if err := f.hit("MarkSessionFailed"); err != nil {
		return err
	}
	return f.Store.MarkSessionFailed(ctx, id, reason)
}

func (f *faultStore) GetApproval(ctx context.Context, id string) (store.ApprovalRequest, error) {
	if err := f.hit("GetApproval"); err != nil {
		return store.ApprovalRequest{}, err
	}
	return f.Store.GetApproval(ctx, id)
}

func (f *faultStore) CreateApproval(ctx context.Context, a store.ApprovalRequest) (store.ApprovalRequest, bool, error) {
	if err := f.hit("CreateApproval"); err != nil {
		return store.ApprovalRequest{}, false, err
	}
	return f.Store.CreateApproval(ctx, a)
}

func (f *faultStore) MarkApprovalUsed(ctx context.Context, id, sessionID string) (store.ApprovalRequest, error) {
	if err := f.hit("MarkApprovalUsed"); err != nil {
		return store.ApprovalRequest{}, err
	}
	return f.Store.MarkApprovalUsed(ctx, id, sessionID)
}

func (f *faultStore) ActiveBreakGlass(ctx context.Context, principal, user, profile string) (store.BreakGlassEvent, error) {
	if err := f.hit("ActiveBreakGlass"); err != nil {
		return store.BreakGlassEvent{}, err
	}
	return f.Store.ActiveBreakGlass(ctx, principal, user, profile)
}

func (f *faultStore) ListBreakGlass(ctx context.Context, fl store.BreakGlassFilter) ([]store.BreakGlassEvent, error) {
	if err := f.hit("ListBreakGlass"); err != nil {
		return nil, err
	}
	return f.Store.ListBreakGlass(ctx, fl)
}

func (f *faultStore) AcquireLease(ctx context.Context, name, owner string, until, now time.Time) error {
	if err := f.hit("AcquireLease"); err != nil {
		return err
	}
	return f.Store.AcquireLease(ctx, name, owner, until, now)
}

func (f *faultStore) ReleaseLease(ctx context.Context, name, owner string) error {
	if err := f.hit("ReleaseLease"); err != nil {
		return err
	}
	return f.Store.ReleaseLease(ctx, name, owner)
}

// ---- policy source ------------------------------------------------------

// countingPolicy counts Policy calls and can fail them.
type countingPolicy struct {
	src   vend.PolicySource
	calls atomic.Int64
	err   error
}

func (c *countingPolicy) Policy(ctx context.Context) (*policy.Policy, error) {
	c.calls.Add(1)
	if c.err != nil {
		return nil, c.err
	}
	return c.src.Policy(ctx)
}

// ---- output capture -----------------------------------------------------

// lines splits JSON-lines output into decoded objects.
func jsonLines(t testing.TB, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("output line is not JSON: %v\n%s", err, sc.Text())
		}
		recs = append(recs, m)
	}
	return recs
}

// ---- harness ------------------------------------------------------------

type harness struct {
	t       testing.TB
	cfg     vend.Config
	svc     *vend.Service
	clock   *testutil.Clock
	ids     *ids
	mem     *store.Memory
	store   *faultStore
	sts     *testutil.STS
	policy  *countingPolicy
	pol     *policy.Compiled
	logs    *testutil.SyncBuffer
	metrics *testutil.SyncBuffer
}

type option func(*harness, *vend.Deps)

func withConfig(f func(*vend.Config)) option {
	return func(h *harness, _ *vend.Deps) { f(&h.cfg) }
}

func withPolicySource(src vend.PolicySource) option {
	return func(h *harness, _ *vend.Deps) { h.policy.src = src }
}

func testConfig() vend.Config {
	return vend.Config{
		TableName: "sentinel-tvm-test", PolicyParameter: "/sentinel-tvm/policy",
		PolicyCacheTTL: vend.DefaultPolicyCacheTTL,
		RateLimit:      100, RateWindow: time.Minute,
		Retention: vend.DefaultRetention, ApprovalTTL: vend.DefaultApprovalTTL, ApprovalWindow: vend.DefaultApprovalWindow,
		Version: "test",
	}
}

func newHarness(t testing.TB, opts ...option) *harness {
	t.Helper()
	h := &harness{t: t, cfg: testConfig(), clock: testutil.NewClock(testNow), ids: &ids{}, pol: testPolicy(t),
		logs: &testutil.SyncBuffer{}, metrics: &testutil.SyncBuffer{}}
	h.mem = store.NewMemory(store.Options{Now: h.clock.Now})
	h.store = newFaultStore(h.mem)
	h.sts = &testutil.STS{Now: h.clock.Now, Keys: fakeKeys}
	h.policy = &countingPolicy{src: vend.StaticPolicy{P: h.pol.Policy}}
	d := vend.Deps{
		Policy: h.policy, Store: h.store, STS: h.sts,
		Log:     slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics: h.metrics, Now: h.clock.Now, NewID: h.ids.New,
	}
	for _, o := range opts {
		o(h, &d)
	}
	svc, err := vend.New(h.cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	return h
}

// event is an API Gateway REST proxy event from testdata, as JSON values.
type event map[string]any

func loadEvent(t testing.TB, name string) event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var e event
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e event) identity() map[string]any {
	return e["requestContext"].(map[string]any)["identity"].(map[string]any)
}

// body sets the raw body.
func (e event) body(s string) event { e["body"] = s; return e }

// profile sets a {"profile": name} body.
func (e event) profile(name string) event {
	return e.body(`{"profile":"` + name + `"}`)
}

// caller sets the signing identity's ARN (and its unique ID to match).
func (e event) caller(arn string) event {
	id := e.identity()
	id["userArn"] = arn
	if i := strings.LastIndexByte(arn, '/'); i >= 0 {
		id["caller"] = "AROAEXAMPLE:" + arn[i+1:]
		id["user"] = id["caller"]
	}
	return e
}

func (e event) query(k, v string) event {
	q, _ := e["queryStringParameters"].(map[string]any)
	if q == nil {
		q = map[string]any{}
		e["queryStringParameters"] = q
	}
	q[k] = v
	return e
}

func (e event) requestID(id string) event {
	e["requestContext"].(map[string]any)["requestId"] = id
	return e
}

func (e event) route(method, resource string) event {
	e["httpMethod"], e["resource"], e["path"] = method, resource, resource
	return e
}

func (e event) raw(t testing.TB) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// result is one answer, decoded.
type result struct {
	vend.Response
	Err  *errorDetail
	JSON map[string]any
}

type errorDetail struct {
	Code              string `json:"code"`
	Message           string `json:"message"`
	RequestID         string `json:"request_id"`
	ApprovalID        string `json:"approval_id"`
	RetryAfterSeconds int    `json:"retry_after_seconds"`
}

// decodeResponse checks the response is JSON (an error body for an error
// status) and decodes it.
func decodeResponse(t testing.TB, resp vend.Response) result {
	t.Helper()
	r := result{Response: resp}
	if ct := resp.Headers["Content-Type"]; ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if err := json.Unmarshal([]byte(resp.Body), &r.JSON); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, resp.Body)
	}
	if resp.StatusCode >= 400 {
		dec := json.NewDecoder(strings.NewReader(resp.Body))
		dec.DisallowUnknownFields()
		var eb struct {
			Error errorDetail `json:"error"`
		}
		if err := dec.Decode(&eb); err != nil {
			t.Fatalf("error body: %v\n%s", err, resp.Body)
		}
		if eb.Error.Code == "" || eb.Error.Message == "" {
			t.Errorf("error body lacks code or message: %s", resp.Body)
		}
		r.Err = &eb.Error
	}
	return r
}

// do runs one event through HandleJSON and checks what every request
// promises: a JSON answer, exactly one decision log event with the stable
// field set, EMF metric lines, and no credential material outside the body.
func (h *harness) do(e event) result {
	h.t.Helper()
	logsBefore, metricsBefore := len(h.logs.String()), len(h.metrics.String())
	resp, err := h.svc.HandleJSON(context.Background(), e.raw(h.t))
	if err != nil {
		h.t.Fatalf("HandleJSON: %v", err)
	}
	r := decodeResponse(h.t, resp)
	newLogs, newMetrics := h.logs.String()[logsBefore:], h.metrics.String()[metricsBefore:]
	checkNoSecrets(h.t, newLogs, newMetrics)
	checkDecisionEvents(h.t, newLogs, 1)
	checkEMF(h.t, newMetrics)
	return r
}

// decision returns the last decision event logged.
func (h *harness) decision() map[string]any {
	h.t.Helper()
	var last map[string]any
	for _, rec := range jsonLines(h.t, h.logs.String()) {
		if rec["msg"] == "decision" {
			last = rec
		}
	}
	if last == nil {
		h.t.Fatal("no decision event logged")
	}
	return last
}

// decisionFields is the stable field set of the decision event.
var decisionFields = []string{
	"request_id", "principal", "caller_arn", "profile", "decision", "rule", "reason",
	"session_id", "duration_seconds", "source_ip", "latency_ms",
}

func checkDecisionEvents(t testing.TB, logs string, want int) {
	t.Helper()
	n := 0
	for _, rec := range jsonLines(t, logs) {
		if rec["msg"] != "decision" {
			continue
		}
		n++
		for _, f := range decisionFields {
			if _, ok := rec[f]; !ok {
				t.Errorf("decision event lacks %q: %v", f, rec)
			}
		}
	}
	if n != want {
		t.Errorf("%d decision events, want %d:\n%s", n, want, logs)
	}
}

func checkNoSecrets(t testing.TB, outputs ...string) {
	t.Helper()
	for _, out := range outputs {
		for _, secret := range []string{fakeSecretKey, fakeToken, "SeCrEt+KeY", "NEVER-LOG-ME"} {
			if strings.Contains(out, secret) {
				t.Errorf("credential material %q in output:\n%s", secret, out)
			}
		}
	}
}

func checkEMF(t testing.TB, metrics string) {
	t.Helper()
	for _, rec := range jsonLines(t, metrics) {
		a, ok := rec["_aws"].(map[string]any)
		if !ok {
			t.Errorf("metric line without _aws: %v", rec)
			continue
		}
		cwm, ok := a["CloudWatchMetrics"].([]any)
		if !ok || len(cwm) != 1 {
			t.Errorf("metric line without _aws.CloudWatchMetrics: %v", rec)
			continue
		}
		if _, ok := a["Timestamp"].(float64); !ok {
			t.Errorf("metric line without _aws.Timestamp: %v", rec)
		}
		def := cwm[0].(map[string]any)
		if def["Namespace"] != vend.MetricNamespace {
			t.Errorf("namespace = %v", def["Namespace"])
		}
		for _, m := range def["Metrics"].([]any) {
			name := m.(map[string]any)["Name"].(string)
			if _, ok := rec[name]; !ok {
				t.Errorf("metric %s declared without a value: %v", name, rec)
			}
		}
		for _, dims := range def["Dimensions"].([]any) {
			var names []string
			for _, d := range dims.([]any) {
				if _, ok := rec[d.(string)].(string); !ok {
					t.Errorf("dimension %v has no string value: %v", d, rec)
				}
				names = append(names, d.(string))
			}
			for _, m := range def["Metrics"].([]any) {
				if name := m.(map[string]any)["Name"].(string); !catalogued(name, names) {
					t.Errorf("metric %s with dimensions %v is not in vend.Metrics", name, names)
				}
			}
		}
	}
}

// metricsOf returns the decoded metric lines so far.
func (h *harness) metricLines() []map[string]any { return jsonLines(h.t, h.metrics.String()) }

// wantError checks an error answer exactly.
func wantError(t testing.TB, r result, status int, code, message string) {
	t.Helper()
	if r.StatusCode != status || r.Err == nil || r.Err.Code != code {
		t.Fatalf("got %d %s, want %d %s", r.StatusCode, r.Body, status, code)
	}
	if message != "" && r.Err.Message != message {
		t.Errorf("message = %q\nwant      %q", r.Err.Message, message)
	}
}

// session returns the stored session with the ID.
func (h *harness) session(id string) store.SessionRecord {
	h.t.Helper()
	s, err := h.mem.GetSession(context.Background(), id)
	if err != nil {
		h.t.Fatalf("session %s: %v", id, err)
	}
	return s
}

// sessions lists every stored session.
func (h *harness) sessions() []store.SessionRecord {
	h.t.Helper()
	s, err := h.mem.ListSessions(context.Background(), store.SessionFilter{})
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}
