package awsdeps

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// SSMAPI is the part of the SSM client the policy source uses.
type SSMAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// SSMPolicySource reads the bundle from an SSM SecureString, checks it
// against the sha256 the deployment pinned, and caches the loaded policy for
// TTL. Parameter may name one version ("name:version"): the module pins the
// version whose bundle SHA256 describes, so an instance still configured
// for the previous bundle keeps reading the previous version while a policy
// change is applied (docs/deploying.md). After TTL it must read the parameter again: a failure then is a
// failure (no stale policy beyond TTL). The value is the bundle JSON, or the
// bundle gzipped and base64-encoded (Terraform's base64gzip) when it would
// not fit SSM's size limit as it is.
type SSMPolicySource struct {
	Client    SSMAPI
	Parameter string
	SHA256    string
	TTL       time.Duration
	Now       func() time.Time

	mu      sync.Mutex
	cached  *policy.Policy
	expires time.Time
}

// SSM throttles GetParameter per account and region (about 40 requests per
// second by default): a burst of cold starts, each reading the parameter
// once, meets it. The retryer retries throttles (and the SDK's other
// retryable errors) with full-jitter exponential backoff from
// ssmRetryBaseDelay to ssmRetryMaxBackoff, without the SDK's client-side
// retry quota (which would give up during exactly such a burst), for up to
// ssmRetryMaxAttempts attempts: the request's deadline (the function's
// timeout) is the real bound, and a read that meets it fails closed
// (policy_unavailable).
const (
	ssmRetryMaxAttempts = 20
	ssmRetryBaseDelay   = 50 * time.Millisecond
	ssmRetryMaxBackoff  = time.Second
)

// SSMRetryer is the SSM client's retryer (see above).
func SSMRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = ssmRetryMaxAttempts
		o.MaxBackoff = ssmRetryMaxBackoff
		o.Backoff = fullJitter{base: ssmRetryBaseDelay, max: ssmRetryMaxBackoff}
		o.RateLimiter = ratelimit.None
	})
}

// fullJitter waits a uniformly random time in [0, min(max, base*2^attempt)).
type fullJitter struct{ base, max time.Duration }

func (j fullJitter) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	ceiling := j.max
	if attempt < 30 && j.base<<attempt < ceiling {
		ceiling = j.base << attempt
	}
	return rand.N(ceiling), nil
}

// Policy returns the cached policy, or reads it again after the TTL.
func (s *SSMPolicySource) Policy(ctx context.Context) (*policy.Policy, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached != nil && now.Before(s.expires) {
		return s.cached, nil
	}
	s.cached = nil // never serve a policy past its TTL, even if the read fails
	p, err := s.read(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", vend.ErrPolicyUnavailable, err)
	}
	s.cached, s.expires = p, now.Add(s.TTL)
	return p, nil
}

func (s *SSMPolicySource) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *SSMPolicySource) read(ctx context.Context) (*policy.Policy, error) {
	out, err := s.Client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(s.Parameter), WithDecryption: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("ssm GetParameter %s: %w", s.Parameter, err)
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return nil, fmt.Errorf("ssm parameter %s has no value", s.Parameter)
	}
	bundle, err := DecodeBundle(*out.Parameter.Value)
	if err != nil {
		return nil, fmt.Errorf("ssm parameter %s: %w", s.Parameter, err)
	}
	if sum := policy.SHA256Hex(bundle); sum != s.SHA256 {
		return nil, fmt.Errorf("ssm parameter %s: bundle sha256 %s does not match the deployed %s", s.Parameter, sum, s.SHA256)
	}
	return policy.Load(bundle)
}

// DecodeBundle turns a parameter value into bundle bytes: JSON as it is, or
// base64 of gzip.
func DecodeBundle(value string) ([]byte, error) {
	value = strings.TrimSpace(value)
	if strings.HasPrefix(value, "{") {
		return []byte(value), nil
	}
	raw, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return nil, fmt.Errorf("the value is neither bundle JSON nor base64: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("the value is base64 but not gzip: %w", err)
	}
	const maxBundle = 16 << 20
	b, err := io.ReadAll(io.LimitReader(zr, maxBundle+1))
	if err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	if len(b) > maxBundle {
		return nil, fmt.Errorf("the bundle exceeds %d bytes", maxBundle)
	}
	return b, nil
}
