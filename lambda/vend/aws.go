package vend

import (
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/sentinel-tvm/sentinel-tvm/lambda/revoke"
	"github.com/sentinel-tvm/sentinel-tvm/lambda/store"
)

// The revoker function's invocations retry throttles this often, waiting at
// most this long between two attempts.
const (
	revokerMaxAttempts = 12
	revokerMaxBackoff  = 2 * time.Second
)

// NewAWSDeps builds the production dependencies from an AWS config: SSM for
// the policy, the DynamoDB store, STS on the config's regional endpoint,
// the revoker function and the SNS topic when configured
// (AWS_ENDPOINT_URL and friends apply, which is how local mode reaches the
// emulator). It makes no network call.
func NewAWSDeps(awsCfg aws.Config, cfg Config, log *slog.Logger, metrics io.Writer) Deps {
	d := Deps{
		Policy: &SSMPolicySource{
			Client:    ssm.NewFromConfig(awsCfg),
			Parameter: cfg.PolicyParameter,
			SHA256:    cfg.PolicySHA256,
			TTL:       cfg.PolicyCacheTTL,
		},
		Store:   store.NewDynamo(dynamodb.NewFromConfig(awsCfg), cfg.TableName, store.Options{Retention: cfg.Retention}),
		STS:     sts.NewFromConfig(awsCfg),
		Log:     log,
		Metrics: metrics,
	}
	if cfg.RevokerFunction != "" {
		// The revoker function runs one revocation at a time (reserved
		// concurrency 1, see lambda/revoke): a busy revoker answers
		// TooManyRequestsException, a throttle the standard retryer
		// retries, within the request's deadline (the function's
		// timeout; a revocation takes about a second).
		invoke := lambda.NewFromConfig(awsCfg, func(o *lambda.Options) {
			o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = revokerMaxAttempts
				so.MaxBackoff = revokerMaxBackoff
			})
		})
		d.Revoker = &revoke.Invoker{Client: invoke, FunctionName: cfg.RevokerFunction}
	}
	if cfg.NotifyTopicARN != "" {
		d.Notifier = &SNSNotifier{Client: sns.NewFromConfig(awsCfg), TopicARN: cfg.NotifyTopicARN}
	}
	return d
}
