//go:build aws

package test

// Helpers of the Terratest suites: deploy an example from a copy of the
// repository, call the deployed API signed with the test's own identity,
// and use vended credentials.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/gruntwork-io/terratest/modules/random"
	"github.com/gruntwork-io/terratest/modules/terraform"
	test_structure "github.com/gruntwork-io/terratest/modules/test-structure"
)

// envBinary chooses terraform or tofu (default terraform).
const envBinary = "TERRAFORM_BINARY"

// envRegion chooses the region (default eu-west-1).
const envRegion = "SENTINEL_TVM_TEST_REGION"

func region() string {
	if r := os.Getenv(envRegion); r != "" {
		return r
	}
	return "eu-west-1"
}

// apiGatewayAccount is the examples' api_gateway_account for the suites:
// SENTINEL_TVM_TEST_APIGW_ACCOUNT (existing, create or none), default
// existing.
func apiGatewayAccount() string {
	if v := os.Getenv("SENTINEL_TVM_TEST_APIGW_ACCOUNT"); v != "" {
		return v
	}
	return "existing"
}

// deployOptions copies the repository (the examples call source = "../../"
// and the module builds lambda/ at plan time) and returns options for the
// example with a unique name prefix.
func deployOptions(t *testing.T, example string, vars map[string]any) *terraform.Options {
	t.Helper()
	dir := test_structure.CopyTerraformFolderToTemp(t, "..", "examples/"+example)
	all := map[string]any{
		"region": region(),
		"name":   "stvm-" + strings.ToLower(random.UniqueId()),
		// The account-wide API Gateway logging role is set by whoever owns
		// the account; the suites do not change it unless told to.
		"api_gateway_account": apiGatewayAccount(),
	}
	for k, v := range vars {
		all[k] = v
	}
	binary := os.Getenv(envBinary)
	if binary == "" {
		binary = "terraform"
	}
	return terraform.WithDefaultRetryableErrors(t, &terraform.Options{
		TerraformDir:    dir,
		TerraformBinary: binary,
		Vars:            all,
		NoColor:         true,
	})
}

func awsConfig(t *testing.T) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(region()))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// api calls the deployed TVM, SigV4-signed (service execute-api) with the
// test's default credentials.
type api struct {
	t    *testing.T
	base string
	cfg  aws.Config
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (a answer) errorCode() string {
	e, _ := a.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (a *api) call(method, path string, body any) (answer, error) {
	var payload []byte
	if body != nil {
		payload, _ = json.Marshal(body)
	}
	req, err := http.NewRequest(method, strings.TrimRight(a.base, "/")+path, bytes.NewReader(payload))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	creds, err := a.cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		return answer{}, err
	}
	sum := sha256.Sum256(payload)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "execute-api", a.cfg.Region, time.Now()); err != nil {
		return answer{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	ans := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &ans.body)
	return ans, nil
}

// vended is a native POST /v1/credentials answer.
type vended struct {
	SessionID      string `json:"session_id"`
	RoleARN        string `json:"role_arn"`
	SourceIdentity string `json:"source_identity"`
	Credentials    struct {
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string
		SessionToken    string
	} `json:"credentials"`
}

func (v vended) config(t *testing.T) aws.Config {
	cfg := awsConfig(t)
	cfg.Credentials = credentials.NewStaticCredentialsProvider(v.Credentials.AccessKeyID, v.Credentials.SecretAccessKey, v.Credentials.SessionToken)
	return cfg
}

func decodeVended(a answer) (vended, error) {
	var v vended
	if a.status != http.StatusOK {
		return v, fmt.Errorf("status %d: %s", a.status, a.raw)
	}
	err := json.Unmarshal([]byte(a.raw), &v)
	return v, err
}
