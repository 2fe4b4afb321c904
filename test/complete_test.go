//go:build aws

package test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gruntwork-io/terratest/modules/retry"
	"github.com/gruntwork-io/terratest/modules/terraform"
	test_structure "github.com/gruntwork-io/terratest/modules/test-structure"
)

// TestComplete deploys examples/complete in stages (SKIP_deploy=true etc.
// re-run a stage against a kept stack): readonly vends, admin answers
// approval_required with a pending request the requester can cancel, and
// the rate limit (20 a minute) answers 429 with Retry-After.
func TestComplete(t *testing.T) {
	t.Parallel()
	workDir := t.TempDir()

	defer test_structure.RunTestStage(t, "destroy", func() {
		terraform.Destroy(t, test_structure.LoadTerraformOptions(t, workDir))
	})
	test_structure.RunTestStage(t, "deploy", func() {
		opts := deployOptions(t, "complete", nil)
		test_structure.SaveTerraformOptions(t, workDir, opts)
		terraform.InitAndApply(t, opts)
	})
	test_structure.RunTestStage(t, "use", func() {
		opts := test_structure.LoadTerraformOptions(t, workDir)
		tvm := &api{t: t, base: terraform.Output(t, opts, "api_url"), cfg: awsConfig(t)}

		retry.DoWithRetry(t, "vend readonly", 30, 10*time.Second, func() (string, error) {
			a, err := tvm.call(http.MethodPost, "/v1/credentials", map[string]any{"profile": "readonly"})
			if err != nil {
				return "", err
			}
			_, err = decodeVended(a)
			return "", err
		})

		a, err := tvm.call(http.MethodPost, "/v1/credentials", map[string]any{"profile": "admin"})
		if err != nil || a.status != http.StatusForbidden || a.errorCode() != "approval_required" {
			t.Fatalf("admin: %v %d %s, want 403 approval_required", err, a.status, a.raw)
		}
		e, _ := a.body["error"].(map[string]any)
		id, _ := e["approval_id"].(string)
		if id == "" {
			id, _ = a.body["approval_id"].(string)
		}
		if id == "" {
			t.Fatalf("approval_required without approval_id: %s", a.raw)
		}
		if a, err := tvm.call(http.MethodGet, "/v1/approvals/"+id, nil); err != nil || a.status != http.StatusOK || a.body["status"] != "pending" {
			t.Errorf("GET approval: %v %d %s, want pending", err, a.status, a.raw)
		}
		if a, err := tvm.call(http.MethodPost, "/v1/approvals/"+id+"/approve", map[string]any{}); err != nil || a.status != http.StatusForbidden {
			t.Errorf("approving one's own request: %v %d %s, want 403", err, a.status, a.raw)
		}
		if a, err := tvm.call(http.MethodPost, "/v1/approvals/"+id+"/cancel", map[string]any{}); err != nil || a.status != http.StatusOK {
			t.Errorf("cancel: %v %d %s", err, a.status, a.raw)
		}

		limited := false
		for i := 0; i < 30 && !limited; i++ {
			a, err := tvm.call(http.MethodPost, "/v1/credentials", map[string]any{"profile": "readonly"})
			if err != nil {
				t.Fatal(err)
			}
			if a.status == http.StatusTooManyRequests {
				limited = true
				if a.errorCode() != "rate_limited" || a.header.Get("Retry-After") == "" {
					t.Errorf("429 without rate_limited and Retry-After: %v %s", a.header, a.raw)
				}
			}
		}
		if !limited {
			t.Error(fmt.Sprintf("30 requests within a minute were not rate limited (limit %d)", 20))
		}
	})
}
