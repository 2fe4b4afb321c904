package store

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The struct tags of the items must name the key, index and TTL attributes
// as the constants (and so the table) do.
func TestItemAttributeNames(t *testing.T) {
	s, _ := newSession(session("s1", alice, "u", "dev", t0))
	item := marshal(s.item(DefaultRetention))
	for _, name := range []string{AttrPK, AttrSK, AttrGSI1PK, AttrGSI1SK, AttrGSI2PK, AttrGSI2SK, AttrTTL} {
		if _, ok := item[name]; !ok {
			t.Errorf("session item has no %q attribute", name)
		}
	}
	want := strconv.FormatInt(t0.Add(time.Hour+DefaultRetention).Unix(), 10)
	if ttl := item[AttrTTL].(*types.AttributeValueMemberN).Value; ttl != want {
		t.Errorf("ttl = %s, want %s (expires_at + retention)", ttl, want)
	}
	schema := TableSchema("t")
	var defined []string
	for _, d := range schema.AttributeDefinitions {
		defined = append(defined, aws.ToString(d.AttributeName))
	}
	equalIDs(t, "attribute definitions", defined, AttrPK, AttrSK, AttrGSI1PK, AttrGSI1SK, AttrGSI2PK, AttrGSI2SK)
	if len(schema.GlobalSecondaryIndexes) != 2 || aws.ToString(schema.GlobalSecondaryIndexes[0].IndexName) != IndexGSI1 ||
		aws.ToString(schema.GlobalSecondaryIndexes[1].IndexName) != IndexGSI2 {
		t.Errorf("indexes = %+v", schema.GlobalSecondaryIndexes)
	}
}

// fakeTransact answers TransactWriteItems from a list of errors.
type fakeTransact struct {
	DynamoAPI
	errs  []error
	calls int
}

func (f *fakeTransact) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.calls++
	if len(f.errs) == 0 {
		return &dynamodb.TransactWriteItemsOutput{}, nil
	}
	err := f.errs[0]
	f.errs = f.errs[1:]
	return nil, err
}

func canceledBy(codes ...string) error {
	e := &types.TransactionCanceledException{Message: aws.String("cancelled")}
	for _, c := range codes {
		e.CancellationReasons = append(e.CancellationReasons, types.CancellationReason{Code: aws.String(c)})
	}
	return e
}

func TestVendDecodesCancellation(t *testing.T) {
	throttled := errors.New("ThrottlingException")
	tests := []struct {
		name      string
		errs      []error
		wantErr   error
		wantCalls int
	}{
		{"success", nil, nil, 1},
		{"rate limited", []error{canceledBy("ConditionalCheckFailed", "None")}, ErrRateLimited, 1},
		{"both failed: rate limited wins", []error{canceledBy("ConditionalCheckFailed", "ConditionalCheckFailed")}, ErrRateLimited, 1},
		{"session collision", []error{canceledBy("None", "ConditionalCheckFailed")}, ErrSessionExists, 1},
		{"conflict, then success", []error{canceledBy("TransactionConflict", "None")}, nil, 2},
		{"conflicts outlast retries", repeat(canceledBy("None", "TransactionConflict"), maxAttempts), ErrUnavailable, maxAttempts},
		{"other cancellation", []error{canceledBy("ValidationError", "None")}, ErrUnavailable, 1},
		{"AWS error", []error{throttled}, throttled, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeTransact{errs: tt.errs}
			d := NewDynamo(f, "t", Options{Now: func() time.Time { return t0 }})
			err := d.Vend(context.Background(), "k", 1, time.Minute, session("s1", alice, "", "dev", t0))
			if tt.wantErr == nil && err != nil || !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == throttled && !errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v, want it wrapped in ErrUnavailable", err)
			}
			if f.calls != tt.wantCalls {
				t.Fatalf("%d calls, want %d", f.calls, tt.wantCalls)
			}
		})
	}
}

func repeat(err error, n int) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}
