package client

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// ProviderName is the Source of the credentials Provider returns.
const ProviderName = "SentinelTVMProvider"

// Provider is an aws.CredentialsProvider that vends credentials for one
// profile through the TVM. Wrap it in aws.NewCredentialsCache, which calls
// it again shortly before the credentials expire.
type Provider struct {
	Client   *Client
	Profile  string
	Duration time.Duration // 0: the policy's default; whole seconds
	// ApprovalID, when set, uses this approved request of the caller.
	ApprovalID    string
	Justification string
}

var _ aws.CredentialsProvider = Provider{}

// Retrieve vends credentials. A refusal is an *Error.
func (p Provider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	if p.Client == nil || p.Profile == "" {
		return aws.Credentials{}, fmt.Errorf("client: Provider needs a Client and a Profile")
	}
	resp, err := p.Client.Credentials(ctx, CredentialsRequest{
		Profile: p.Profile, DurationSeconds: int64(p.Duration / time.Second),
		ApprovalID: p.ApprovalID, Justification: p.Justification,
	}, FormatNative)
	if err != nil {
		return aws.Credentials{}, err
	}
	return resp.AWS(), nil
}
