package vend_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sentinel-tvm/sentinel-tvm/internal/motoserver"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

func TestMain(m *testing.M) { os.Exit(motoserver.Main(m)) }

var motoTables atomic.Int64

// countingDynamo counts the DynamoDB API calls the store makes.
type countingDynamo struct {
	api   store.DynamoAPI
	mu    sync.Mutex
	calls []string
}

func (c *countingDynamo) note(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, op)
}

// take returns the calls so far and forgets them.
func (c *countingDynamo) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

func (c *countingDynamo) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.note("GetItem")
	return c.api.GetItem(ctx, in, o...)
}

func (c *countingDynamo) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.note("PutItem")
	return c.api.PutItem(ctx, in, o...)
}

func (c *countingDynamo) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.note("UpdateItem")
	return c.api.UpdateItem(ctx, in, o...)
}

func (c *countingDynamo) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.note("DeleteItem")
	return c.api.DeleteItem(ctx, in, o...)
}

func (c *countingDynamo) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.note("Query")
	return c.api.Query(ctx, in, o...)
}

func (c *countingDynamo) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.note("TransactWriteItems")
	return c.api.TransactWriteItems(ctx, in, o...)
}

// withDynamo replaces the harness's memory store with the DynamoDB store on
// a table of its own in the shared moto, behind a call counter.
func withDynamo(t *testing.T) (option, *countingDynamo) {
	t.Helper()
	srv := motoserver.Shared(t)
	client := dynamodb.NewFromConfig(srv.Config)
	name := fmt.Sprintf("sentinel-tvm-vend-%d", motoTables.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := store.CreateTable(ctx, client, name); err != nil {
		t.Fatal(err)
	}
	counter := &countingDynamo{api: client}
	return func(h *harness, d *vend.Deps) {
		h.store = newFaultStore(store.NewDynamo(counter, name, store.Options{Now: h.clock.Now}))
		d.Store = h.store
	}, counter
}

func TestDynamoConcurrentRateLimit(t *testing.T) {
	const n, limit = 20, 5
	dyn, _ := withDynamo(t)
	h := newHarness(t, withConfig(func(c *vend.Config) { c.RateLimit = limit }), dyn)
	rs := runParallel(t, h, n, loadEvent(t, "credentials-native.json"))
	checkExactlyL(t, h, rs, limit)
	sessions, err := h.store.ListSessions(context.Background(), store.SessionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != limit {
		t.Errorf("%d sessions in the table, want %d", len(sessions), limit)
	}
}

// TestDynamoRoundTrips counts the DynamoDB API calls each path makes on the
// real store (moto), with STS and the cached policy in-process.
func TestDynamoRoundTrips(t *testing.T) {
	ctx := context.Background()
	for _, p := range roundTripPaths {
		t.Run(p.name, func(t *testing.T) {
			dyn, counter := withDynamo(t)
			h := newHarness(t, dyn)
			bg := func(profile string) error {
				_, err := h.store.Store.OpenBreakGlass(ctx, store.BreakGlassEvent{ID: "b6" + idN(99)[2:], Principal: principalARN,
					Profile: profile, ReasonCode: "incident", Justification: "database down", ExpiresAt: h.clock.Now().Add(time.Hour)})
				return err
			}
			e := p.setup(t, h, ctx, bg)
			counter.take()
			stsBefore := h.sts.Calls()
			r := h.do(e)
			calls := counter.take()
			n := len(calls) + h.sts.Calls() - stsBefore
			t.Logf("%-48s %d round trips: DynamoDB %v, STS %d -> %d", p.name, n, calls, h.sts.Calls()-stsBefore, r.StatusCode)
			if p.limit > 0 && n > p.limit {
				t.Errorf("%s: %d sequential AWS round trips, want at most %d", p.name, n, p.limit)
			}
		})
	}
}
