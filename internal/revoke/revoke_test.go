package revoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/sentinel-tvm/sentinel-tvm/internal/motoserver"
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

func newRevoker(api IAMAPI, c *testutil.Clock) *Revoker {
	return &Revoker{Clients: func(context.Context, string) (IAMAPI, error) { return api, nil }, Now: c.Now}
}

func sid(n int) string { return fmt.Sprintf("%032x", n) }

func req(n int, issued time.Time) Request {
	return Request{RoleARN: roleARN, SessionID: sid(n), IssuedAt: issued, ExpiresAt: issued.Add(time.Hour)}
}

func sids(d Document) []string {
	out := []string{}
	for _, st := range d.Statement {
		out = append(out, sidOf(st))
	}
	return out
}

func TestRevokeWritesOneDenyPerSession(t *testing.T) {
	f, c := newFakeIAM(), newClock()
	r := newRevoker(f, c)
	res, err := r.Revoke(t.Context(), req(1, t0.Add(-time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Enforcement != EnforcementSessionTag || res.Statements != 1 || res.PolicyName != PolicyName || res.Attempts != 1 {
		t.Fatalf("result %+v", res)
	}
	got := f.policies["prod-admin"][PolicyName]
	want := `{"Version":"2012-10-17","Statement":[{"Action":"*","Condition":{"StringEquals":{"aws:PrincipalTag/sentinel:session-id":"` + sid(1) +
		`"}},"Effect":"Deny","Resource":"*","Sid":"Revoke` + sid(1) + `Until` + fmt.Sprint(t0.Add(59*time.Minute).Unix()) + `"}]}`
	if got != want {
		t.Fatalf("policy\n%s\nwant\n%s", got, want)
	}
	if res.PolicyChars != Chars(want) {
		t.Errorf("policy_chars %d, want %d", res.PolicyChars, Chars(want))
	}
	// Again: idempotent, no write.
	puts := f.puts
	if res, err = r.Revoke(t.Context(), req(1, t0.Add(-time.Minute))); err != nil || res.Enforcement != EnforcementSessionTag {
		t.Fatalf("again: %+v %v", res, err)
	}
	if f.puts != puts {
		t.Errorf("a repeated revocation wrote the policy again")
	}
	if _, err := r.Revoke(t.Context(), req(2, t0)); err != nil {
		t.Fatal(err)
	}
	if got := sids(f.doc(t, "prod-admin")); len(got) != 2 {
		t.Fatalf("statements %v", got)
	}
}

func TestRevokePrunesExpiredSessions(t *testing.T) {
	f, c := newFakeIAM(), newClock()
	r := newRevoker(f, c)
	for i, issued := range []time.Time{t0.Add(-50 * time.Minute), t0.Add(-30 * time.Minute), t0} {
		if _, err := r.Revoke(t.Context(), req(i+1, issued)); err != nil {
			t.Fatal(err)
		}
	}
	c.Advance(31 * time.Minute) // sessions 1 and 2 have expired
	res, err := r.Revoke(t.Context(), req(4, c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Revoke" + sid(3) + "Until" + fmt.Sprint(t0.Add(time.Hour).Unix()),
		"Revoke" + sid(4) + "Until" + fmt.Sprint(c.Now().Add(time.Hour).Unix()),
	}
	if got := sids(f.doc(t, "prod-admin")); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("after pruning %v, want %v", got, want)
	}
	if res.Statements != 2 {
		t.Errorf("result %+v", res)
	}
}

func TestRevokeFallsBackToTokenIssueTime(t *testing.T) {
	f, c := newFakeIAM(), newClock()
	r := newRevoker(f, c)
	one := Chars(Document{Version: "2012-10-17", Statement: []json.RawMessage{SessionStatement(sid(1), t0.Add(time.Hour))}}.JSON())
	per := Chars(string(SessionStatement(sid(1), t0.Add(time.Hour)))) + 1
	r.Limit = one + 2*per // three statements fit, not four
	for i := 1; i <= 3; i++ {
		res, err := r.Revoke(t.Context(), req(i, t0.Add(-time.Minute)))
		if err != nil || res.Enforcement != EnforcementSessionTag {
			t.Fatalf("revocation %d: %+v %v", i, res, err)
		}
	}
	c.Advance(10 * time.Second)
	res, err := r.Revoke(t.Context(), req(4, t0.Add(-time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	cutoff := c.Now().Add(time.Second)
	if res.Enforcement != EnforcementTokenIssueTime || !res.TokenIssueCutoff.Equal(cutoff) || res.Statements != 1 {
		t.Fatalf("overflow: %+v, want token_issue_time at %s", res, cutoff)
	}
	d := f.doc(t, "prod-admin")
	if got := sids(d); len(got) != 1 || got[0] != fmt.Sprintf("RevokeIssuedBefore%d", cutoff.Unix()) {
		t.Fatalf("statements %v", got)
	}
	if !strings.Contains(string(d.Statement[0]), `"DateLessThan":{"aws:TokenIssueTime":"`+cutoff.Format(time.RFC3339)+`"}`) {
		t.Errorf("cut-off statement %s", d.Statement[0])
	}

	// An older session is covered by the cut-off: nothing written.
	puts := f.puts
	if res, err = r.Revoke(t.Context(), req(1, t0.Add(-time.Minute))); err != nil || res.Enforcement != EnforcementTokenIssueTime {
		t.Fatalf("covered: %+v %v", res, err)
	}
	if f.puts != puts {
		t.Error("a covered session was written")
	}
	// A session issued after the cut-off gets its own statement beside it.
	later := c.Now().Add(time.Minute)
	c.Advance(2 * time.Minute)
	if res, err = r.Revoke(t.Context(), req(5, later)); err != nil || res.Enforcement != EnforcementSessionTag || res.Statements != 2 {
		t.Fatalf("after the cut-off: %+v %v", res, err)
	}
	// The cut-off goes once every session issued before it has expired.
	c.Advance(time.Hour)
	if res, err = r.Revoke(t.Context(), req(6, c.Now())); err != nil || res.Statements != 1 || res.Enforcement != EnforcementSessionTag {
		t.Fatalf("after an hour: %+v %v", res, err)
	}
	if got := sids(f.doc(t, "prod-admin")); len(got) != 1 || !strings.HasPrefix(got[0], "Revoke"+sid(6)) {
		t.Fatalf("statements %v", got)
	}
}

func TestRevokeCountsOtherInlinePolicies(t *testing.T) {
	f, c := newFakeIAM(), newClock()
	r := newRevoker(f, c)
	other := `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::` + strings.Repeat("x", 9800) + `"}]}`
	f.set("prod-admin", "other", other)
	res, err := r.Revoke(t.Context(), req(1, t0))
	if err != nil {
		t.Fatal(err)
	}
	if res.Enforcement != EnforcementSessionTag || res.PolicyChars <= Chars(other) {
		t.Fatalf("first: %+v", res)
	}
	res, err = r.Revoke(t.Context(), req(2, t0))
	if err != nil || res.Enforcement != EnforcementTokenIssueTime {
		t.Fatalf("beside a large policy: %+v %v", res, err)
	}
	if res.PolicyChars > MaxInlinePolicyChars {
		t.Errorf("%d characters, over the limit", res.PolicyChars)
	}
	f.set("prod-admin", "other", `{"x":"`+strings.Repeat("y", 10300)+`"}`)
	if _, err := r.Revoke(t.Context(), req(3, t0.Add(time.Minute))); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("no room: %v", err)
	}
}

func TestRevokeFallsBackWhenIAMSaysLimitExceeded(t *testing.T) {
	f, c := newFakeIAM(), newClock()
	r := newRevoker(f, c)
	calls := 0
	api := &limitOnce{fakeIAM: f, calls: &calls}
	r.Clients = func(context.Context, string) (IAMAPI, error) { return api, nil }
	res, err := r.Revoke(t.Context(), req(1, t0))
	if err != nil || res.Enforcement != EnforcementTokenIssueTime || res.Attempts != 2 {
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
	stale := Document{Version: "2012-10-17", Statement: []json.RawMessage{SessionStatement(sid(9), t0.Add(time.Hour))}}.JSON()
	f.afterPut = func(n int) {
		if n == 1 {
			f.set("prod-admin", PolicyName, stale)
		}
	}
	res, err := r.Revoke(t.Context(), req(1, t0))
	if err != nil || res.Attempts != 2 || res.Statements != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	if got := sids(f.doc(t, "prod-admin")); len(got) != 2 {
		t.Fatalf("statements %v: both sessions must be denied", got)
	}
	// A writer that always wins: bounded.
	f.afterPut = func(int) { f.set("prod-admin", PolicyName, stale) }
	r.MaxAttempts = 3
	if _, err := r.Revoke(t.Context(), req(2, t0)); !errors.Is(err, ErrLostRace) {
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
		{"no expiry", Request{RoleARN: roleARN, SessionID: sid(1)}, "expires_at is required"},
		{"expired", Request{RoleARN: roleARN, SessionID: sid(1), ExpiresAt: t0}, "the session expired at 2030-01-02T03:04:00Z; there is nothing to revoke"},
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

func TestChars(t *testing.T) {
	if n := Chars("{ \"a\" :\n\t\"b c\" }"); n != 10 {
		t.Fatalf("Chars = %d, want 10", n)
	}
}
