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

// STSAPI is the part of the STS client ClientsFromConfig uses.
type STSAPI interface {
	stscreds.AssumeRoleAPIClient
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// ClientsFromConfig returns the IAM clients of the revoker function, each
// acting in exactly one account. In the revoker's own account (the
// account of cfg's credentials, asked of STS once) it uses those
// credentials; in any other account it assumes
// arn:PARTITION:iam::ACCOUNT:role/WRITERROLE (one client per account, its
// credentials cached and refreshed by the SDK), and without a writer role
// it refuses (ErrNoWriter): IAM's role-policy calls take a role name, so a
// client of the wrong account would write onto a same-named role there.
func ClientsFromConfig(cfg aws.Config, stsClient STSAPI, writerRole string) func(ctx context.Context, account string) (IAMAPI, error) {
	var (
		mu      sync.Mutex
		own     string
		clients = map[string]IAMAPI{}
	)
	if stsClient == nil {
		stsClient = sts.NewFromConfig(cfg)
	}
	return func(ctx context.Context, account string) (IAMAPI, error) {
		mu.Lock()
		defer mu.Unlock()
		if c, ok := clients[account]; ok {
			return c, nil
		}
		if own == "" {
			out, err := stsClient.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				return nil, fmt.Errorf("revoke: the revoker's own account: %w", err)
			}
			own = aws.ToString(out.Account)
		}
		if account == own {
			clients[account] = iam.NewFromConfig(cfg)
			return clients[account], nil
		}
		if writerRole == "" {
			return nil, fmt.Errorf("%w %s: the revoker runs in account %s and no writer role is configured (SENTINEL_REVOKER_ROLE_NAME)", ErrNoWriter, account, own)
		}
		c := cfg.Copy()
		c.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient,
			"arn:"+partitionOf(cfg)+":iam::"+account+":role/"+writerRole, func(o *stscreds.AssumeRoleOptions) {
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
