// Command tvm is the Sentinel TVM Lambda function (built as `bootstrap` for
// the provided.al2023 runtime). It only wires: configuration from the
// environment, AWS clients, then the handler. Init makes no network call.
//
// The API function also runs the approval-expiry sweep when its schedule
// invokes it with {"sentinel_tvm_sweep": "approvals"} (sweep.tf); the
// answer is {"expired": N}.
//
// The same bootstrap runs as two functions: the API function (default),
// and with SENTINEL_FUNCTION=revoker the revoker, the only function with
// IAM write permission, which the API function invokes to write a
// revocation into the vended role's inline policy (event
// {"role_arn", "session_id"}, checked against the session table; answer
// {"enforcement": "session_tag|token_issue_time", ...}).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sentinel-tvm/sentinel-tvm/internal/awsdeps"
	"github.com/sentinel-tvm/sentinel-tvm/internal/revoke"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// Function modes (SENTINEL_FUNCTION).
const (
	FunctionAPI     = "api"
	FunctionRevoker = "revoker"
)

var roleNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)

func main() {
	switch f := os.Getenv("SENTINEL_FUNCTION"); f {
	case "", FunctionAPI:
		api()
	case FunctionRevoker:
		revoker()
	default:
		fatal(fmt.Errorf("SENTINEL_FUNCTION=%q is not %s or %s", f, FunctionAPI, FunctionRevoker))
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "sentinel-tvm:", err)
	os.Exit(1)
}

func api() {
	cfg, err := vend.ConfigFromEnv(os.Getenv)
	if err != nil {
		fatal(err)
	}
	awsCfg, err := lambdaAWSConfig(os.Getenv)
	if err != nil {
		fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	svc, err := vend.New(cfg, awsdeps.New(awsCfg, cfg, log, os.Stdout))
	if err != nil {
		fatal(err)
	}
	lambda.Start(apiHandler(svc))
}

// apiHandler answers API Gateway events, and runs the sweep for the
// schedule's event (which no API Gateway event can look like).
func apiHandler(svc *vend.Service) func(ctx context.Context, raw json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		if vend.IsSweepEvent(raw) {
			var ev vend.SweepEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, err
			}
			return svc.Sweep(ctx, ev)
		}
		return svc.HandleJSON(ctx, raw)
	}
}

// revoker serves revocations. SENTINEL_TABLE_NAME is the table whose
// session records it checks every request against (it acts only on
// sessions found there). SENTINEL_REVOKER_ROLE_NAME, when set, is the
// writer role it assumes in accounts other than its own; without it, it
// refuses roles of other accounts.
func revoker() {
	roleName := os.Getenv("SENTINEL_REVOKER_ROLE_NAME")
	if roleName != "" && !roleNameRE.MatchString(roleName) {
		fatal(fmt.Errorf("SENTINEL_REVOKER_ROLE_NAME=%q is not an IAM role name", roleName))
	}
	table := os.Getenv("SENTINEL_TABLE_NAME")
	if table == "" {
		fatal(fmt.Errorf("SENTINEL_TABLE_NAME is required: the revoker acts only on sessions it finds in the table"))
	}
	awsCfg, err := lambdaAWSConfig(os.Getenv)
	if err != nil {
		fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	r := &revoke.Revoker{
		Clients:  revoke.ClientsFromConfig(awsCfg, nil, roleName),
		Sessions: store.NewDynamo(dynamodb.NewFromConfig(awsCfg), table, store.Options{}),
		Settle:   500 * time.Millisecond,
	}
	lambda.Start(func(ctx context.Context, req revoke.Request) (revoke.Result, error) {
		return serveRevocation(ctx, r, log, req)
	})
}

// serveRevocation runs one revocation and logs it: an audit line, and a
// WARN line of its own when the revocation had to write the role-wide
// token-issue-time cut-off.
func serveRevocation(ctx context.Context, r vend.Revoker, log *slog.Logger, req revoke.Request) (revoke.Result, error) {
	res, err := r.Revoke(ctx, req)
	if err != nil {
		log.Error("revocation failed", "role_arn", req.RoleARN, "session_id", req.SessionID, "error", err.Error())
		return revoke.Result{}, err
	}
	log.Warn("revocation written", "audit", true, "event", "revocation_written", "role_arn", req.RoleARN,
		"session_id", req.SessionID, "enforcement", res.Enforcement, "statements", res.Statements,
		"sessions", res.Sessions, "policy_chars", res.PolicyChars, "attempts", res.Attempts)
	if res.CutoffWritten {
		log.Warn("revocation fell back to a token-issue-time cut-off: every session of the role issued before it is denied",
			"audit", true, "event", vend.EventRevocationFallback, "role_arn", req.RoleARN, "session_id", req.SessionID,
			"token_issue_cutoff", res.TokenIssueCutoff.Format(time.RFC3339), "policy_chars", res.PolicyChars)
	}
	return res, nil
}

// lambdaAWSConfig is the AWS configuration a Lambda function has: the
// region and the execution role's credentials from the environment the
// runtime sets, and AWS_ENDPOINT_URL when set (local mode and tests). It
// replaces config.LoadDefaultConfig, whose shared-file, SSO and IMDS
// providers a function never uses and which cost the bootstrap megabytes.
func lambdaAWSConfig(getenv func(string) string) (aws.Config, error) {
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	key, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if region == "" || key == "" || secret == "" {
		return aws.Config{}, fmt.Errorf("AWS configuration: AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set (the Lambda runtime sets them)")
	}
	cfg := aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(key, secret, getenv("AWS_SESSION_TOKEN"))),
	}
	if ep := getenv("AWS_ENDPOINT_URL"); ep != "" {
		cfg.BaseEndpoint = aws.String(ep)
	}
	return cfg, nil
}
