package revoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/sentinel-tvm/sentinel-tvm/internal/motoserver"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
	"github.com/sentinel-tvm/sentinel-tvm/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(motoserver.Main(m)) }

var t0 = time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)

const roleARN = "arn:aws:iam::444455556666:role/sentinel/prod-admin"

// fakeIAM keeps inline policies per role, URL-encoded as IAM returns them.
type fakeIAM struct {
	mu       sync.Mutex
	policies map[string]map[string]string // role -> name -> document
	puts     int
	// afterPut runs after the n-th put (1-based), outside the lock: a
	// concurrent writer.
	afterPut func(n int)
	// putErr fails puts.
	putErr error
}

func newFakeIAM() *fakeIAM { return &fakeIAM{policies: map[string]map[string]string{}} }

func (f *fakeIAM) GetRolePolicy(_ context.Context, in *iam.GetRolePolicyInput, _ ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	doc, ok := f.policies[*in.RoleName][*in.PolicyName]
	if !ok {
		return nil, &iamtypes.NoSuchEntityException{Message: aws.String("no such policy")}
	}
	return &iam.GetRolePolicyOutput{PolicyDocument: aws.String(url.QueryEscape(doc)), PolicyName: in.PolicyName, RoleName: in.RoleName}, nil
}

func (f *fakeIAM) PutRolePolicy(_ context.Context, in *iam.PutRolePolicyInput, _ ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error) {
	f.mu.Lock()
	if f.putErr != nil {
		f.mu.Unlock()
		return nil, f.putErr
	}
	if f.policies[*in.RoleName] == nil {
		f.policies[*in.RoleName] = map[string]string{}
	}
	f.policies[*in.RoleName][*in.PolicyName] = *in.PolicyDocument
	f.puts++
	n, hook := f.puts, f.afterPut
	f.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return &iam.PutRolePolicyOutput{}, nil
}

func (f *fakeIAM) ListRolePolicies(_ context.Context, in *iam.ListRolePoliciesInput, _ ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &iam.ListRolePoliciesOutput{}
	for name := range f.policies[*in.RoleName] {
		out.PolicyNames = append(out.PolicyNames, name)
	}
	return out, nil
}

func (f *fakeIAM) doc(t *testing.T, role string) Document {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var d Document
	if err := json.Unmarshal([]byte(f.policies[role][PolicyName]), &d); err != nil {
		t.Fatalf("policy on %s: %v", role, err)
	}
	return d
}

func (f *fakeIAM) set(role, name, doc string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.policies[role] == nil {
		f.policies[role] = map[string]string{}
	}
	f.policies[role][name] = doc
}

func newClock() *testutil.Clock { return testutil.NewClock(t0) }

// fakeSessions is the session table as the revoker reads it.
type fakeSessions struct {
	mu       sync.Mutex
	sessions map[string]store.SessionRecord
	err      error
}

func (f *fakeSessions) GetSession(_ context.Context, id string) (store.SessionRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return store.SessionRecord{}, f.err
	}
	se, ok := f.sessions[id]
	if !ok {
		return store.SessionRecord{}, fmt.Errorf("%w: session %s", store.ErrNotFound, id)
	}
	return se, nil
}

func (f *fakeSessions) put(se store.SessionRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if se.Status == "" {
		se.Status = store.SessionActive
	}
	f.sessions[se.ID] = se
}

// table is the session table every test revoker reads.
func table(r *Revoker) *fakeSessions { return r.Sessions.(*fakeSessions) }

func newRevoker(api IAMAPI, c *testutil.Clock) *Revoker {
	return &Revoker{
		Clients:  func(context.Context, string) (IAMAPI, error) { return api, nil },
		Sessions: &fakeSessions{sessions: map[string]store.SessionRecord{}},
		Now:      c.Now,
	}
}

func sid(n int) string { return fmt.Sprintf("%032x", n) }

// req records session n of roleARN (issued at issued, one hour long) in
// the revoker's table and returns its revocation request.
func req(r *Revoker, n int, issued time.Time) Request {
	table(r).put(store.SessionRecord{ID: sid(n), RoleARN: roleARN, IssuedAt: issued, ExpiresAt: issued.Add(time.Hour)})
	return Request{RoleARN: roleARN, SessionID: sid(n), IssuedAt: issued, ExpiresAt: issued.Add(time.Hour)}
}

func sids(d Document) []string {
	out := []string{}
	for _, st := range d.Statement {
		out = append(out, sidOf(st))
	}
	return out
}

// denied lists the session IDs the policy denies one by one, sorted.
func denied(d Document) []string {
	st := parse(d)
	out := []string{}
	for id := range st.entries {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func TestRevokeWritesThePackedDeny(t *testing.T) {
	f, c := newFakeIAM(), newClock()
	r := newRevoker(f, c)
	res, err := r.Revoke(t.Context(), req(r, 1, t0.Add(-time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Enforcement != EnforcementSessionTag || res.Statements != 1 || res.Sessions != 1 || res.PolicyName != PolicyName || res.Attempts != 1 {
		t.Fatalf("result %+v", res)
	}
	// Expiry t0+59m rounds up to the quarter hour t0+71m (t0 is 03:04).
	until := time.Date(2030, 1, 2, 4, 15, 0, 0, time.UTC).Unix()
	got := f.policies["prod-admin"][PolicyName]
	want := `{"Version":"2012-10-17","Statement":[{"Action":"*","Condition":{"StringEquals":{"aws:PrincipalTag/sentinel:session-id":["` + sid(1) +
		`"]}},"Effect":"Deny","Resource":"*","Sid":"RevokeUntil` + fmt.Sprint(until) + `"}]}`
	if got != want {
		t.Fatalf("policy\n%s\nwant\n%s", got, want)
	}
	if res.PolicyChars != Chars(want) {
		t.Errorf("policy_chars %d, want %d", res.PolicyChars, Chars(want))
	}
	// Again: idempotent, no write.
	puts := f.puts
	if res, err = r.Revoke(t.Context(), req(r, 1, t0.Add(-time.Minute))); err != nil || res.Enforcement != EnforcementSessionTag {
		t.Fatalf("again: %+v %v", res, err)
	}
	if f.puts != puts {
		t.Errorf("a repeated revocation wrote the policy again")
	}
	// A second session expiring in the same quarter hour joins the statement.
	if _, err := r.Revoke(t.Context(), req(r, 2, t0)); err != nil {
		t.Fatal(err)
	}
	d := f.doc(t, "prod-admin")
	if got := sids(d); len(got) != 1 || strings.Join(denied(d), ",") != sid(1)+","+sid(2) {
		t.Fatalf("statements %v denying %v", got, denied(d))
	}
}

func TestRevokePrunesExpiredSessions(t *testing.T) {
	f, c := newFakeIAM(), newClock()
	r := newRevoker(f, c)
	for i, issued := range []time.Time{t0.Add(-50 * time.Minute), t0.Add(-30 * time.Minute), t0} {
		if _, err := r.Revoke(t.Context(), req(r, i+1, issued)); err != nil {
			t.Fatal(err)
		}
	}
	// Session 1 expires at 03:14 (bucket 03:15), session 2 at 03:34
	// (bucket 03:45): at 03:50 both statements have ended.
	c.Advance(46 * time.Minute)
	res, err := r.Revoke(t.Context(), req(r, 4, c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if got := denied(f.doc(t, "prod-admin")); strings.Join(got, ",") != sid(3)+","+sid(4) {
		t.Fatalf("after pruning %v, want sessions 3 and 4", got)
	}
	if res.Statements != 2 || res.Sessions != 2 {
		t.Errorf("result %+v", res)
	}
}

func TestRevokeRepacksOneStatementPerSessionPolicies(t *testing.T) {
	f, c := newFakeIAM(), newClock()
	r := newRevoker(f, c)
	legacy := func(n int, until time.Time) string {
		return `{"Sid":"Revoke` + sid(n) + `Until` + fmt.Sprint(until.Unix()) + `","Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/sentinel:session-id":"` + sid(n) + `"}}}`
	}
	f.set("prod-admin", PolicyName, `{"Version":"2012-10-17","Statement":[`+legacy(7, t0.Add(-time.Minute))+`,`+legacy(8, t0.Add(20*time.Minute))+`]}`)
	if _, err := r.Revoke(t.Context(), req(r, 1, t0)); err != nil {
		t.Fatal(err)
	}
	d := f.doc(t, "prod-admin")
	if got := denied(d); strings.Join(got, ",") != sid(1)+","+sid(8) {
		t.Fatalf("denied %v: the expired one pruned, the live one kept", got)
	}
	for _, s := range sids(d) {
		if !packedSidRE.MatchString(s) {
			t.Errorf("statement %s not repacked", s)
		}
	}
}

// TestRevokeOwnerFloodFitsWithoutCutoff: 100 revocations of sessions of
// one role within an hour (twice what filled a one-statement-per-session
// policy) all stay per-session denies: nobody else's session is cut off.
func TestRevokeOwnerFloodFitsWithoutCutoff(t *testing.T) {
	f, c := newFakeIAM(), newClock()
	r := newRevoker(f, c)
	var res Result
	for i := 1; i <= 100; i++ {
		var err error
		if res, err = r.Revoke(t.Context(), req(r, i, c.Now())); err != nil {
			t.Fatal(err)
		}
		if res.Enforcement != EnforcementSessionTag || res.CutoffWritten {
			t.Fatalf("revocation %d fell back to the cut-off: %+v", i, res)
		}
		c.Advance(30 * time.Second)
	}
	if res.Sessions != 100 || res.PolicyChars > MaxInlinePolicyChars {
		t.Fatalf("result %+v", res)
	}
	t.Logf("100 sessions in %d statements, %d characters", res.Statements, res.PolicyChars)
}

func TestRevokeFallsBackToTokenIssueTime(t *testing.T) {
	f, c := newFakeIAM(), newClock()
	r := newRevoker(f, c)
	one := state{entries: map[string]int64{sid(1): bucketEnd(t0.Add(time.Hour))}}.render().chars()
	r.Limit = one + 2*(len(sid(1))+3) // three sessions of one bucket fit, not four
	for i := 1; i <= 3; i++ {
		res, err := r.Revoke(t.Context(), req(r, i, t0.Add(-time.Minute)))
		if err != nil || res.Enforcement != EnforcementSessionTag {
			t.Fatalf("revocation %d: %+v %v", i, res, err)
		}
	}
	c.Advance(10 * time.Second)
	res, err := r.Revoke(t.Context(), req(r, 4, t0.Add(-time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	cutoff := c.Now().Add(time.Second)
	if res.Enforcement != EnforcementTokenIssueTime || !res.CutoffWritten || !res.TokenIssueCutoff.Equal(cutoff) || res.Statements != 1 {
		t.Fatalf("overflow: %+v, want token_issue_time at %s", res, cutoff)
	}
	d := f.doc(t, "prod-admin")
	if got := sids(d); len(got) != 1 || got[0] != fmt.Sprintf("RevokeIssuedBefore%d", cutoff.Unix()) {
		t.Fatalf("statements %v", got)
	}
	if !strings.Contains(string(d.Statement[0]), `"DateLessThan":{"aws:TokenIssueTime":"`+cutoff.Format(time.RFC3339)+`"}`) {
		t.Errorf("cut-off statement %s", d.Statement[0])
	}

	// An older session is covered by the cut-off: nothing written, and
	// this revocation did not write the cut-off.
	puts := f.puts
	if res, err = r.Revoke(t.Context(), req(r, 1, t0.Add(-time.Minute))); err != nil || res.Enforcement != EnforcementTokenIssueTime || res.CutoffWritten {
		t.Fatalf("covered: %+v %v", res, err)
	}
	if f.puts != puts {
		t.Error("a covered session was written")
	}
	// A session issued after the cut-off gets its own deny beside it
	// (room made for it).
	r.Limit = 0
	later := c.Now().Add(time.Minute)
	c.Advance(2 * time.Minute)
	if res, err = r.Revoke(t.Context(), req(r, 5, later)); err != nil || res.Enforcement != EnforcementSessionTag || res.Statements != 2 {
		t.Fatalf("after the cut-off: %+v %v", res, err)
	}
	// The cut-off goes once every session issued before it has expired,
	// and session 5's statement once its quarter hour has ended.
	c.Advance(time.Hour + 10*time.Minute)
	if res, err = r.Revoke(t.Context(), req(r, 6, c.Now())); err != nil || res.Statements != 1 || res.Enforcement != EnforcementSessionTag {
		t.Fatalf("after an hour: %+v %v", res, err)
	}
	if got := denied(f.doc(t, "prod-admin")); len(got) != 1 || got[0] != sid(6) {
		t.Fatalf("denied %v", got)
	}
}

func TestRevokeCountsOtherInlinePolicies(t *testing.T) {
	f, c := newFakeIAM(), newClock()
	r := newRevoker(f, c)
	other := `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::` + strings.Repeat("x", 9800) + `"}]}`
	f.set("prod-admin", "other", other)
	res, err := r.Revoke(t.Context(), req(r, 1, t0))
	if err != nil {
		t.Fatal(err)
	}
	if res.Enforcement != EnforcementSessionTag || res.PolicyChars <= Chars(other) {
		t.Fatalf("first: %+v", res)
	}
	// A session of another quarter hour needs a statement of its own,
	// which does not fit.
	res, err = r.Revoke(t.Context(), req(r, 2, t0.Add(-30*time.Minute)))
	if err != nil || res.Enforcement != EnforcementTokenIssueTime || !res.CutoffWritten {
		t.Fatalf("beside a large policy: %+v %v", res, err)
	}
	if res.PolicyChars > MaxInlinePolicyChars {
		t.Errorf("%d characters, over the limit", res.PolicyChars)
	}
	f.set("prod-admin", "other", `{"x":"`+strings.Repeat("y", 10300)+`"}`)
	c.Advance(time.Minute)
	if _, err := r.Revoke(t.Context(), req(r, 3, t0.Add(time.Minute))); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("no room: %v", err)
	}
}

func TestRevokeFallsBackWhenIAMSaysLimitExceeded(t *testing.T) {
	f, c := newFakeIAM(), newClock()
	r := newRevoker(f, c)
	calls := 0
	api := &limitOnce{fakeIAM: f, calls: &calls}
	r.Clients = func(context.Context, string) (IAMAPI, error) { return api, nil }
	res, err := r.Revoke(t.Context(), req(r, 1, t0))
	if err != nil || res.Enforcement != EnforcementTokenIssueTime || !res.CutoffWritten || res.Attempts != 2 {
		t.Fatalf("%+v %v", res, err)
	}
}

// limitOnce refuses the first put with LimitExceeded.
type limitOnce struct {
	*fakeIAM
	calls *int
}

func (l *limitOnce) PutRolePolicy(ctx context.Context, in *iam.PutRolePolicyInput, o ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error) {
	if *l.calls++; *l.calls == 1 {
		return nil, &iamtypes.LimitExceededException{Message: aws.String("too big")}
	}
	return l.fakeIAM.PutRolePolicy(ctx, in, o...)
}

func TestRevokeRetriesALostRace(t *testing.T) {
	f, c := newFakeIAM(), newClock()
	r := newRevoker(f, c)
	// A concurrent writer that read before our first write overwrites it.
	stale := state{entries: map[string]int64{sid(9): bucketEnd(t0.Add(time.Hour))}}.render().JSON()
	f.afterPut = func(n int) {
		if n == 1 {
			f.set("prod-admin", PolicyName, stale)
		}
	}
	res, err := r.Revoke(t.Context(), req(r, 1, t0))
	if err != nil || res.Attempts != 2 || res.Sessions != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	if got := denied(f.doc(t, "prod-admin")); len(got) != 2 {
		t.Fatalf("denied %v: both sessions must be denied", got)
	}
	// A writer that always wins: bounded.
	f.afterPut = func(int) { f.set("prod-admin", PolicyName, stale) }
	r.MaxAttempts = 3
	if _, err := r.Revoke(t.Context(), req(r, 2, t0)); !errors.Is(err, ErrLostRace) {
		t.Fatalf("err = %v, want ErrLostRace", err)
	}
}

func TestRevokeRefusesBadRequests(t *testing.T) {
	f, c := newFakeIAM(), newClock()
	r := newRevoker(f, c)
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"role", Request{RoleARN: "arn:aws:iam::444455556666:user/x", SessionID: sid(1), ExpiresAt: t0.Add(time.Hour)}, `role_arn "arn:aws:iam::444455556666:user/x" is not an IAM role ARN`},
		{"session", Request{RoleARN: roleARN, SessionID: "ABC", ExpiresAt: t0.Add(time.Hour)}, "session_id must be 32 lowercase hex characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Revoke(t.Context(), tt.req)
			if !errors.Is(err, ErrInvalid) || !strings.HasSuffix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if f.puts != 0 {
		t.Error("a bad request wrote")
	}
}

// TestRevokeActsOnlyOnSessionsInTheTable: anyone who can invoke the
// revoker could send it any payload. It acts only on a session it finds
// in the table, of the role the request names, and denies it until the
// session's recorded expiry, whatever the payload says.
func TestRevokeActsOnlyOnSessionsInTheTable(t *testing.T) {
	f, c := newFakeIAM(), newClock()
	r := newRevoker(f, c)
	forever := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	tb := table(r)
	tb.put(store.SessionRecord{ID: sid(2), RoleARN: "arn:aws:iam::444455556666:role/other", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	tb.put(store.SessionRecord{ID: sid(3), RoleARN: roleARN, IssuedAt: t0.Add(-2 * time.Hour), ExpiresAt: t0.Add(-time.Hour), Status: store.SessionExpired})
	tb.put(store.SessionRecord{ID: sid(4), RoleARN: roleARN, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour), Status: store.SessionFailed})
	tb.put(store.SessionRecord{ID: sid(5), RoleARN: roleARN, IssuedAt: t0.Add(-2 * time.Hour), ExpiresAt: t0.Add(-time.Hour)})
	for name, rq := range map[string]Request{
		"not in the table":   {RoleARN: roleARN, SessionID: sid(1), ExpiresAt: forever},
		"another role's":     {RoleARN: roleARN, SessionID: sid(2), ExpiresAt: forever},
		"expired":            {RoleARN: roleARN, SessionID: sid(3), ExpiresAt: forever},
		"failed":             {RoleARN: roleARN, SessionID: sid(4), ExpiresAt: forever},
		"past expiry active": {RoleARN: roleARN, SessionID: sid(5), ExpiresAt: forever},
	} {
		if _, err := r.Revoke(t.Context(), rq); !errors.Is(err, ErrUnknownSession) {
			t.Errorf("%s: err = %v, want ErrUnknownSession", name, err)
		}
	}
	if f.puts != 0 {
		t.Fatalf("forged requests wrote %d times", f.puts)
	}
	tb.err = errors.New("table down")
	if _, err := r.Revoke(t.Context(), Request{RoleARN: roleARN, SessionID: sid(2)}); err == nil || f.puts != 0 {
		t.Fatalf("table down: %v, %d writes", err, f.puts)
	}
	tb.err = nil

	// A real session with a forged expiry: the deny ends with the session.
	tb.put(store.SessionRecord{ID: sid(6), RoleARN: roleARN, IssuedAt: t0, ExpiresAt: t0.Add(20 * time.Minute), Status: store.SessionRevoked})
	res, err := r.Revoke(t.Context(), Request{RoleARN: roleARN, SessionID: sid(6), IssuedAt: t0, ExpiresAt: forever})
	if err != nil || !res.SessionExpiresAt.Equal(t0.Add(20*time.Minute)) {
		t.Fatalf("%+v %v", res, err)
	}
	want := "RevokeUntil" + fmt.Sprint(time.Date(2030, 1, 2, 3, 30, 0, 0, time.UTC).Unix())
	if got := sids(f.doc(t, "prod-admin")); len(got) != 1 || got[0] != want {
		t.Fatalf("statements %v, want %s (the session's own expiry, rounded up to the quarter hour)", got, want)
	}
	// Without a table the revoker refuses everything.
	r.Sessions = nil
	if _, err := r.Revoke(t.Context(), Request{RoleARN: roleARN, SessionID: sid(6)}); !errors.Is(err, ErrUnknownSession) {
		t.Fatalf("no table: %v", err)
	}
}

func TestChars(t *testing.T) {
	if n := Chars("{ \"a\" :\n\t\"b c\" }"); n != 10 {
		t.Fatalf("Chars = %d, want 10", n)
	}
}

// TestRevokeIgnoresLookAlikeStatements: a session of the protected role
// with iam:PutRolePolicy plants statements that borrow the revoker's Sids
// (an Allow for its own session ID, a cut-off with a harmless body) before
// it is revoked. The revocation must still write a real deny for it, and
// the planted cut-off must never turn into a role-wide deny.
func TestRevokeIgnoresLookAlikeStatements(t *testing.T) {
	f, c := newFakeIAM(), newClock()
	r := newRevoker(f, c)
	rq := req(r, 1, t0.Add(-time.Minute))
	planted := []string{
		`{"Sid":"RevokeUntil99999999999","Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/sentinel:session-id":["` + sid(1) + `"]}}}`,
		`{"Sid":"Revoke` + sid(1) + `Until99999999999","Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/sentinel:session-id":"` + sid(1) + `"}}}`,
		`{"Sid":"RevokeIssuedBefore99999999999","Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}`,
	}
	f.set("prod-admin", PolicyName, `{"Version":"2012-10-17","Statement":[`+strings.Join(planted, ",")+`]}`)
	res, err := r.Revoke(t.Context(), rq)
	if err != nil || res.Enforcement != EnforcementSessionTag || res.Sessions != 1 {
		t.Fatalf("revoke: %+v %v", res, err)
	}
	d := f.doc(t, "prod-admin")
	if got := denied(d); len(got) != 1 || got[0] != sid(1) {
		t.Fatalf("denied %v, want the session's own deny (policy %s)", got, f.policies["prod-admin"][PolicyName])
	}
	if st := parse(d); len(st.cutoffs) != 0 || len(st.others) != len(planted) {
		t.Fatalf("cut-offs %v, others %d: the planted statements must stay someone else's, as they are", st.cutoffs, len(st.others))
	}
	if strings.Contains(f.policies["prod-admin"][PolicyName], "aws:TokenIssueTime") {
		t.Fatalf("a planted Sid became a role-wide cut-off: %s", f.policies["prod-admin"][PolicyName])
	}
}
