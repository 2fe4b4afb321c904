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
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/gruntwork-io/terratest/modules/retry"
	"github.com/gruntwork-io/terratest/modules/terraform"
)

// TestMultiTenant deploys examples/multi-tenant: a session vended to the
// test's account writes under its own account's prefix and is refused
// another tenant's prefix, although the role itself may write both (the
// session policy really restricts).
func TestMultiTenant(t *testing.T) {
	t.Parallel()
	opts := deployOptions(t, "multi-tenant", nil)
	defer terraform.Destroy(t, opts)
	terraform.InitAndApply(t, opts)

	tvm := &api{t: t, base: terraform.Output(t, opts, "api_url"), cfg: awsConfig(t)}
	bucket := terraform.Output(t, opts, "bucket")
	ctx := context.Background()
	me, err := sts.NewFromConfig(awsConfig(t)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	account := aws.ToString(me.Account)

	var v vended
	retry.DoWithRetry(t, "vend tenant-data", 30, 10*time.Second, func() (string, error) {
		a, err := tvm.call(http.MethodPost, "/v1/credentials", map[string]any{"profile": "tenant-data"})
		if err != nil {
			return "", err
		}
		v, err = decodeVended(a)
		return "", err
	})
	client := s3.NewFromConfig(v.config(t))
	put := func(key string) error {
		_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("x")})
		return err
	}
	retry.DoWithRetry(t, "write own prefix", 10, 5*time.Second, func() (string, error) {
		return "", put(account + "/hello.txt")
	})
	if err := put("999999999999/hello.txt"); err == nil {
		t.Error("the session wrote another tenant's prefix")
	} else if !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("writing another tenant's prefix: %v, want AccessDenied", err)
	}
	out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(account + "/")})
	if err != nil || aws.ToInt32(out.KeyCount) != 1 {
		t.Errorf("listing own prefix: %v (%v)", err, fmt.Sprint(out))
	}
}
