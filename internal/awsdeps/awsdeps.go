// Package awsdeps builds the vending service's production dependencies on
// the AWS SDK: the SSM policy source, the DynamoDB store, STS, the revoker
// function and the SNS notifier. The service itself (package vend) sees only
// its interfaces.
package awsdeps

import (
	"io"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/sentinel-tvm/sentinel-tvm/internal/revoke"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// New builds the production dependencies from an AWS config: SSM for
// the policy, the DynamoDB store, STS on the config's regional endpoint,
// the revoker function and the SNS topic when configured
// (AWS_ENDPOINT_URL and friends apply, which is how local mode reaches the
// emulator). It makes no network call.
func New(awsCfg aws.Config, cfg vend.Config, log *slog.Logger, metrics io.Writer) vend.Deps {
	d := vend.Deps{
		Policy: &SSMPolicySource{
			Client:    ssm.NewFromConfig(awsCfg, func(o *ssm.Options) { o.Retryer = SSMRetryer() }),
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
		// The SDK's default retryer: revocations of one role wait for a
		// lease in the table (revokeSession), never for a throttle.
		d.Revoker = &revoke.Invoker{Client: lambda.NewFromConfig(awsCfg), FunctionName: cfg.RevokerFunction}
	}
	if cfg.NotifyTopicARN != "" {
		d.Notifier = &SNSNotifier{Client: sns.NewFromConfig(awsCfg), TopicARN: cfg.NotifyTopicARN}
	}
	return d
}
