package store

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sentinel-tvm/sentinel-tvm/internal/motoserver"
)

func TestMain(m *testing.M) { os.Exit(motoserver.Main(m)) }

var tables atomic.Int64

// newTable creates a table of its own for t on the package's moto.
func newTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	srv := motoserver.Shared(t)
	client := dynamodb.NewFromConfig(srv.Config)
	name := fmt.Sprintf("sentinel-tvm-test-%d", tables.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := CreateTable(ctx, client, name); err != nil {
		t.Fatal(err)
	}
	return client, name
}

func TestDynamo(t *testing.T) {
	motoserver.Shared(t) // skip the whole suite at once without moto
	runSuite(t, func(t *testing.T, now func() time.Time) Store {
		client, name := newTable(t)
		return NewDynamo(client, name, Options{Now: now})
	})
}
