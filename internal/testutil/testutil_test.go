package testutil

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func TestClock(t *testing.T) {
	c := NewClock(t0)
	c.Advance(90 * time.Second)
	if got := c.Now(); !got.Equal(t0.Add(90*time.Second)) || got.Location() != time.UTC {
		t.Errorf("Now = %v, want %v in UTC", got, t0.Add(90*time.Second))
	}
	c.Set(t0)
	if !c.Now().Equal(t0) {
		t.Errorf("after Set, Now = %v", c.Now())
	}
}

func TestSyncBufferConcurrentWritersAndLimit(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				b.Write([]byte("x"))
			}
		}()
	}
	wg.Wait()
	if b.Len() != 800 {
		t.Errorf("Len = %d, want 800", b.Len())
	}
	b.Reset()
	if b.String() != "" {
		t.Errorf("after Reset: %q", b.String())
	}

	l := SyncBuffer{Limit: 10}
	l.Write([]byte("0123456789"))
	l.Write([]byte("ab"))
	if got := l.String(); got != "56789ab" {
		t.Errorf("limited buffer holds %q, want the tail 56789ab", got)
	}
}

func TestSTS(t *testing.T) {
	clk := NewClock(t0)
	f := &STS{Now: clk.Now}
	in := &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::111122223333:role/r"), DurationSeconds: aws.Int32(900), SourceIdentity: aws.String("stvm.x")}
	for n := 1; n <= 2; n++ {
		out, err := f.AssumeRole(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		c := out.Credentials
		if aws.ToString(c.AccessKeyId) != AccessKeyID(n) || !strings.Contains(aws.ToString(c.SecretAccessKey), SecretMarker) ||
			aws.ToString(c.SessionToken) != SessionToken(n) || !aws.ToTime(c.Expiration).Equal(t0.Add(15*time.Minute)) ||
			aws.ToString(out.SourceIdentity) != "stvm.x" {
			t.Errorf("call %d answered %+v", n, c)
		}
	}
	f.SetLifetime(time.Minute)
	out, _ := f.AssumeRole(context.Background(), in)
	if got := aws.ToTime(out.Credentials.Expiration); !got.Equal(t0.Add(time.Minute)) {
		t.Errorf("with a lifetime, expires %v", got)
	}
	boom := errors.New("ThrottlingException")
	f.Fail(boom)
	if _, err := f.AssumeRole(context.Background(), in); !errors.Is(err, boom) {
		t.Errorf("after Fail: %v", err)
	}
	if f.Calls() != 4 || len(f.Inputs()) != 4 || f.Inputs()[0] != in {
		t.Errorf("Calls %d, %d inputs", f.Calls(), len(f.Inputs()))
	}

	f = &STS{Block: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.AssumeRole(ctx, in); !errors.Is(err, context.Canceled) {
		t.Errorf("blocked call with a cancelled context: %v", err)
	}
}
