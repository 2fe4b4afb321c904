package revoke

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/sentinel-tvm/sentinel-tvm/internal/motoserver"
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
	r := &Revoker{Clients: func(context.Context, string) (IAMAPI, error) { return client, nil }, Now: c.Now}
	res, err := r.Revoke(t.Context(), Request{RoleARN: arn, SessionID: sid(1), IssuedAt: t0, ExpiresAt: t0.Add(15 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Enforcement != EnforcementSessionTag {
		t.Fatalf("%+v", res)
	}
	d := motoPolicy(t, client, "revoke-lifecycle")
	if len(d.Statement) != 1 || !strings.Contains(string(d.Statement[0]), `"aws:PrincipalTag/sentinel:session-id":"`+sid(1)+`"`) ||
		!strings.Contains(string(d.Statement[0]), `"Effect":"Deny"`) {
		t.Fatalf("policy in the emulator: %s", d.JSON())
	}

	// Pruning: session 1 expires, session 2 stays.
	c.Advance(20 * time.Minute)
	if _, err := r.Revoke(t.Context(), Request{RoleARN: arn, SessionID: sid(2), IssuedAt: c.Now(), ExpiresAt: c.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got := sids(motoPolicy(t, client, "revoke-lifecycle")); len(got) != 1 || !strings.HasPrefix(got[0], "Revoke"+sid(2)) {
		t.Fatalf("after pruning: %v", got)
	}

	// Overflow: revoke until the role's policy would exceed IAM's limit.
	var last Result
	for i := 3; i < 100; i++ {
		if last, err = r.Revoke(t.Context(), Request{RoleARN: arn, SessionID: sid(i), IssuedAt: c.Now(), ExpiresAt: c.Now().Add(time.Hour)}); err != nil {
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
