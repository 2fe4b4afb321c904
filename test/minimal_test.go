//go:build aws

package test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/gruntwork-io/terratest/modules/retry"
	"github.com/gruntwork-io/terratest/modules/terraform"
)

// TestMinimal deploys examples/minimal, vends the readonly profile with the
// test's own identity, uses the credentials, is refused an unknown profile,
// revokes the session and sees its credentials stop working, then destroys.
func TestMinimal(t *testing.T) {
	t.Parallel()
	opts := deployOptions(t, "minimal", nil)
	defer terraform.Destroy(t, opts)
	terraform.InitAndApply(t, opts)

	tvm := &api{t: t, base: terraform.Output(t, opts, "api_url"), cfg: awsConfig(t)}
	roleARN := terraform.Output(t, opts, "readonly_role_arn")
	roleName := roleARN[strings.LastIndex(roleARN, "/")+1:]

	// Health, through IAM auth and the resource policy.
	retry.DoWithRetry(t, "GET /v1/health", 30, 10*time.Second, func() (string, error) {
		a, err := tvm.call(http.MethodGet, "/v1/health", nil)
		if err != nil || a.status != http.StatusOK {
			return "", fmt.Errorf("health: %v %d %s", err, a.status, a.raw)
		}
		if a.body["policy_sha256"] != terraform.Output(t, opts, "policy_sha256") {
			return "", fmt.Errorf("health reports policy %v", a.body["policy_sha256"])
		}
		return "", nil
	})

	// Vend; the protected role's trust policy may take a while to propagate.
	var v vended
	retry.DoWithRetry(t, "vend readonly", 30, 10*time.Second, func() (string, error) {
		a, err := tvm.call(http.MethodPost, "/v1/credentials", map[string]any{"profile": "readonly", "duration_seconds": 900})
		if err != nil {
			return "", err
		}
		v, err = decodeVended(a)
		return "", err
	})
	if v.RoleARN != roleARN || !strings.HasPrefix(v.SourceIdentity, "stvm") {
		t.Fatalf("vended role %s with SourceIdentity %q, want %s and stvm...", v.RoleARN, v.SourceIdentity, roleARN)
	}
	ctx := context.Background()
	who, err := sts.NewFromConfig(v.config(t)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(aws.ToString(who.Arn), ":assumed-role/"+roleName+"/") {
		t.Errorf("GetCallerIdentity: %s, want the assumed role %s", aws.ToString(who.Arn), roleName)
	}
	// The role allows s3:ListAllMyBuckets and nothing else.
	if _, err := s3.NewFromConfig(v.config(t)).ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
		t.Errorf("ListBuckets with the vended credentials: %v", err)
	}
	if _, err := iam.NewFromConfig(v.config(t)).ListRoles(ctx, &iam.ListRolesInput{}); err == nil {
		t.Error("iam:ListRoles succeeded with the readonly session")
	}

	// Deny: a profile the policy does not have.
	a, err := tvm.call(http.MethodPost, "/v1/credentials", map[string]any{"profile": "no-such-profile"})
	if err != nil || a.status != http.StatusForbidden || a.errorCode() != "policy_denied" {
		t.Errorf("unknown profile: %v %d %s, want 403 policy_denied", err, a.status, a.raw)
	}

	// Revoke, and see the credentials fail within a bounded time.
	a, err = tvm.call(http.MethodPost, "/v1/sessions/"+v.SessionID+"/revoke", map[string]any{"reason": "terratest"})
	if err != nil || a.status != http.StatusOK || a.body["status"] != "revoked" {
		t.Fatalf("revoke: %v %d %s", err, a.status, a.raw)
	}
	retry.DoWithRetry(t, "revoked credentials stop working", 30, 10*time.Second, func() (string, error) {
		if _, err := s3.NewFromConfig(v.config(t)).ListBuckets(ctx, &s3.ListBucketsInput{}); err == nil {
			return "", fmt.Errorf("the revoked session still lists buckets")
		}
		return "", nil
	})
}
