package revoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// LambdaAPI is the part of the Lambda client the Invoker uses.
type LambdaAPI interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Invoker revokes through the revoker function: the API function's side,
// which needs lambda:InvokeFunction on that one function and no IAM
// permission.
type Invoker struct {
	Client       LambdaAPI
	FunctionName string
}

// ErrFunction is a failure the revoker function reported.
var ErrFunction = errors.New("revoke: the revoker function failed")

// Revoke invokes the revoker synchronously and returns its answer.
func (i *Invoker) Revoke(ctx context.Context, req Request) (Result, error) {
	payload, err := json.Marshal(req)
	if err != nil {
		return Result{}, err
	}
	out, err := i.Client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(i.FunctionName),
		InvocationType: lambdatypes.InvocationTypeRequestResponse,
		Payload:        payload,
	})
	if err != nil {
		return Result{}, fmt.Errorf("revoke: invoke %s: %w", i.FunctionName, err)
	}
	if out.FunctionError != nil {
		var fe struct {
			Type    string `json:"errorType"`
			Message string `json:"errorMessage"`
		}
		_ = json.Unmarshal(out.Payload, &fe)
		return Result{}, fmt.Errorf("%w (%s): %s: %s", ErrFunction, aws.ToString(out.FunctionError), fe.Type, fe.Message)
	}
	var res Result
	if err := json.Unmarshal(out.Payload, &res); err != nil {
		return Result{}, fmt.Errorf("%w: answer is not a result: %w", ErrFunction, err)
	}
	if res.Enforcement != EnforcementSessionTag && res.Enforcement != EnforcementTokenIssueTime {
		return Result{}, fmt.Errorf("%w: enforcement %q", ErrFunction, res.Enforcement)
	}
	return res, nil
}

// ClientsFromConfig returns the IAM clients of the revoker function.
// Without roleName every account's roles are written with cfg's own
// credentials (the function's role: vended roles in its own account).
// With roleName the revoker assumes arn:aws:iam::ACCOUNT:role/ROLENAME in
// the vended role's account (one client per account, its credentials
// cached and refreshed by the SDK).
func ClientsFromConfig(cfg aws.Config, roleName string) func(ctx context.Context, account string) (IAMAPI, error) {
	if roleName == "" {
		client := iam.NewFromConfig(cfg)
		return func(context.Context, string) (IAMAPI, error) { return client, nil }
	}
	var mu sync.Mutex
	clients := map[string]IAMAPI{}
	stsClient := sts.NewFromConfig(cfg)
	return func(_ context.Context, account string) (IAMAPI, error) {
		mu.Lock()
		defer mu.Unlock()
		if c, ok := clients[account]; ok {
			return c, nil
		}
		c := cfg.Copy()
		c.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient,
			"arn:"+partitionOf(cfg)+":iam::"+account+":role/"+roleName, func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = "sentinel-tvm-revoker"
			}))
		clients[account] = iam.NewFromConfig(c)
		return clients[account], nil
	}
}

func partitionOf(cfg aws.Config) string {
	switch {
	case len(cfg.Region) >= 3 && cfg.Region[:3] == "cn-":
		return "aws-cn"
	case len(cfg.Region) >= 7 && cfg.Region[:7] == "us-gov-":
		return "aws-us-gov"
	}
	return "aws"
}
