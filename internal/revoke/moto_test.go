package revoke

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/sentinel-tvm/sentinel-tvm/internal/motoserver"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
)

// motoRole creates a role in moto's default account and returns its ARN
// and an IAM client.
func motoRole(t *testing.T, name string) (string, *iam.Client) {
	t.Helper()
	client := iam.NewFromConfig(motoserver.Shared(t).Config)
	out, err := client.CreateRole(t.Context(), &iam.CreateRoleInput{
		RoleName: aws.String(name), Path: aws.String("/sentinel/"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Role.Arn), client
}

func motoPolicy(t *testing.T, client *iam.Client, role string) Document {
	t.Helper()
	out, err := client.GetRolePolicy(t.Context(), &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(PolicyName)})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := url.QueryUnescape(aws.ToString(out.PolicyDocument))
	if strings.HasPrefix(aws.ToString(out.PolicyDocument), "{") {
		raw, err = aws.ToString(out.PolicyDocument), nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var d Document
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return d
}

// TestMotoRevocationLifecycle writes, prunes and overflows the revocation
// policy of a role in the emulator.
func TestMotoRevocationLifecycle(t *testing.T) {
	arn, client := motoRole(t, "revoke-lifecycle")
	c := newClock()
	tb := &fakeSessions{sessions: map[string]store.SessionRecord{}}
	r := &Revoker{Clients: func(context.Context, string) (IAMAPI, error) { return client, nil }, Sessions: tb, Now: c.Now}
	session := func(n int, issued time.Time, d time.Duration) Request {
		tb.put(store.SessionRecord{ID: sid(n), RoleARN: arn, IssuedAt: issued, ExpiresAt: issued.Add(d)})
		return Request{RoleARN: arn, SessionID: sid(n)}
	}
	res, err := r.Revoke(t.Context(), session(1, t0, 15*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if res.Enforcement != EnforcementSessionTag {
		t.Fatalf("%+v", res)
	}
	d := motoPolicy(t, client, "revoke-lifecycle")
	if len(d.Statement) != 1 || !strings.Contains(string(d.Statement[0]), `"aws:PrincipalTag/sentinel:session-id":["`+sid(1)+`"]`) ||
		!strings.Contains(string(d.Statement[0]), `"Effect":"Deny"`) {
		t.Fatalf("policy in the emulator: %s", d.JSON())
	}

	// Pruning: session 1 expires (03:19) and its quarter hour ends (03:30);
	// session 2 stays.
	c.Advance(30 * time.Minute)
	if _, err := r.Revoke(t.Context(), session(2, c.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := denied(motoPolicy(t, client, "revoke-lifecycle")); len(got) != 1 || got[0] != sid(2) {
		t.Fatalf("after pruning: %v", got)
	}

	// Overflow: revoke until the role's policy would exceed IAM's limit
	// (some 280 sessions of one hour, packed).
	var last Result
	for i := 3; i < 400; i++ {
		if last, err = r.Revoke(t.Context(), session(i, c.Now(), time.Hour)); err != nil {
			t.Fatal(err)
		}
		if last.Enforcement == EnforcementTokenIssueTime {
			t.Logf("overflow at revocation %d, %d characters", i, last.PolicyChars)
			break
		}
		if last.PolicyChars > MaxInlinePolicyChars {
			t.Fatalf("%d characters", last.PolicyChars)
		}
	}
	if last.Enforcement != EnforcementTokenIssueTime {
		t.Fatal("never fell back to token_issue_time")
	}
	d = motoPolicy(t, client, "revoke-lifecycle")
	if len(d.Statement) != 1 || !strings.Contains(string(d.Statement[0]), `"aws:TokenIssueTime"`) {
		t.Fatalf("after overflow: %s", d.JSON())
	}
}

// TestMotoRevocationStaysInTheRolesAccount: IAM's role-policy calls take a
// role name, so a client of the wrong account writes onto a same-named
// role there. The revoker's clients act in the role's own account or
// refuse: without a writer role, a role of another account is refused and
// the same-named role of the revoker's own account is left alone.
func TestMotoRevocationStaysInTheRolesAccount(t *testing.T) {
	own, client := motoRole(t, "same-name")
	cfg := motoserver.Shared(t).Config
	account := strings.Split(own, ":")[4]
	other := "arn:aws:iam::999988887777:role/sentinel/same-name"
	tb := &fakeSessions{sessions: map[string]store.SessionRecord{}}
	c := newClock()
	for i, arn := range []string{own, other} {
		tb.put(store.SessionRecord{ID: sid(i + 1), RoleARN: arn, IssuedAt: c.Now(), ExpiresAt: c.Now().Add(time.Hour)})
	}
	r := &Revoker{Clients: ClientsFromConfig(cfg, nil, ""), Sessions: tb, Now: c.Now}

	if _, err := r.Revoke(t.Context(), Request{RoleARN: other, SessionID: sid(2)}); !errors.Is(err, ErrNoWriter) {
		t.Fatalf("a role of another account without a writer role: err = %v, want ErrNoWriter", err)
	}
	if _, err := client.GetRolePolicy(t.Context(), &iam.GetRolePolicyInput{RoleName: aws.String("same-name"), PolicyName: aws.String(PolicyName)}); err == nil {
		t.Fatalf("the revocation of %s was written onto %s's same-named role", other, account)
	}
	// The revoker's own account: its own credentials.
	res, err := r.Revoke(t.Context(), Request{RoleARN: own, SessionID: sid(1)})
	if err != nil || res.Enforcement != EnforcementSessionTag {
		t.Fatalf("own account: %+v %v", res, err)
	}
	if got := denied(motoPolicy(t, client, "same-name")); len(got) != 1 || got[0] != sid(1) {
		t.Fatalf("own account's policy denies %v", got)
	}

	// With a writer role: assumed in the role's account, never in its own.
	rec := &recordingSTS{account: account}
	clients := ClientsFromConfig(cfg, rec, "sentinel-tvm-revocation-writer")
	if _, err := clients(t.Context(), account); err != nil {
		t.Fatal(err)
	}
	if _, err := clients(t.Context(), "999988887777"); err != nil {
		t.Fatal(err)
	}
	if len(rec.assumed) != 0 {
		t.Fatalf("clients assumed %v before any call", rec.assumed)
	}
	c2, _ := clients(t.Context(), "999988887777")
	_, _ = c2.ListRolePolicies(t.Context(), &iam.ListRolePoliciesInput{RoleName: aws.String("x")})
	if len(rec.assumed) != 1 || rec.assumed[0] != "arn:aws:iam::999988887777:role/sentinel-tvm-revocation-writer" {
		t.Fatalf("assumed %v, want only the writer role of account 999988887777", rec.assumed)
	}
	c1, _ := clients(t.Context(), account)
	if _, err := c1.ListRolePolicies(t.Context(), &iam.ListRolePoliciesInput{RoleName: aws.String("same-name")}); err != nil || len(rec.assumed) != 1 {
		t.Fatalf("own account: %v; assumed %v (its own credentials, no writer role)", err, rec.assumed)
	}
}

// recordingSTS answers GetCallerIdentity with account and records the
// roles assumed (failing the assumption: no credentials needed).
type recordingSTS struct {
	mu      sync.Mutex
	account string
	assumed []string
}

func (s *recordingSTS) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	return &sts.GetCallerIdentityOutput{Account: aws.String(s.account)}, nil
}

func (s *recordingSTS) AssumeRole(_ context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.assumed = append(s.assumed, aws.ToString(in.RoleArn))
	return nil, errors.New("recordingSTS: no credentials")
}
