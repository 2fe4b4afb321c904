package testutil

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
)

// SecretMarker is in every secret key and session token STS issues by
// default: output that contains it leaked credential material.
const SecretMarker = "NEVER-PRINT"

// AccessKeyID, SecretKey and SessionToken are the n-th credentials STS
// issues by default (numbered from 1).
func AccessKeyID(n int) string  { return fmt.Sprintf("ASIAVENDED%010d", n) }
func SecretKey(n int) string    { return fmt.Sprintf("vended-secret-%d-%s", n, SecretMarker) }
func SessionToken(n int) string { return fmt.Sprintf("vended-token-%d-%s", n, SecretMarker) }

// STS is a fake STS AssumeRole (vend.STSAPI): it records every input and
// answers new credentials that expire after the asked duration. Set its
// fields before the first call; Fail and SetLifetime change it while
// calls run.
type STS struct {
	// Now is the clock expirations count from (default time.Now).
	Now func() time.Time
	// Keys, when set, gives the n-th credentials instead of AccessKeyID(n),
	// SecretKey(n) and SessionToken(n).
	Keys func(n int) (accessKeyID, secretKey, sessionToken string)
	// Err, when set, is returned instead of credentials.
	Err error
	// NoCredentials makes it answer success without credentials.
	NoCredentials bool
	// Block, when set, is waited on (or the context) before answering.
	Block chan struct{}
	// Lifetime, when positive, makes the credentials expire Lifetime from
	// now, whatever duration was asked: tests of refreshing use seconds.
	Lifetime time.Duration
	// DiscardInputs keeps no inputs, only their count (benchmarks).
	DiscardInputs bool

	mu     sync.Mutex
	n      int // credentials issued
	calls  int
	inputs []*sts.AssumeRoleInput
}

// Fail makes every AssumeRole fail with err (nil: succeed again).
func (f *STS) Fail(err error) { f.mu.Lock(); f.Err = err; f.mu.Unlock() }

// SetLifetime sets Lifetime while calls run.
func (f *STS) SetLifetime(d time.Duration) { f.mu.Lock(); f.Lifetime = d; f.mu.Unlock() }

// Calls returns how many AssumeRole calls were made.
func (f *STS) Calls() int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls }

// Inputs returns the AssumeRole inputs so far.
func (f *STS) Inputs() []*sts.AssumeRoleInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.inputs)
}

// AssumeRole implements vend.STSAPI.
func (f *STS) AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	f.mu.Lock()
	f.calls++
	if !f.DiscardInputs {
		f.inputs = append(f.inputs, in)
	}
	err, none, block, life, now, keys := f.Err, f.NoCredentials, f.Block, f.Lifetime, f.Now, f.Keys
	if err == nil && !none {
		f.n++
	}
	n := f.n
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	if none {
		return &sts.AssumeRoleOutput{}, nil
	}
	if now == nil {
		now = time.Now
	}
	if keys == nil {
		keys = func(n int) (string, string, string) { return AccessKeyID(n), SecretKey(n), SessionToken(n) }
	}
	if life <= 0 {
		life = time.Duration(aws.ToInt32(in.DurationSeconds)) * time.Second
	}
	id, secret, token := keys(n)
	return &sts.AssumeRoleOutput{
		Credentials: &types.Credentials{
			AccessKeyId: aws.String(id), SecretAccessKey: aws.String(secret), SessionToken: aws.String(token),
			Expiration: aws.Time(now().Add(life).UTC().Truncate(time.Second)),
		},
		AssumedRoleUser:  &types.AssumedRoleUser{Arn: aws.String("arn:aws:sts::111122223333:assumed-role/x/y"), AssumedRoleId: aws.String("AROAFAKE:y")},
		SourceIdentity:   in.SourceIdentity,
		PackedPolicySize: aws.Int32(10),
	}, nil
}
