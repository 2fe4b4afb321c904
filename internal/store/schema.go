package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The table's key schema. The Terraform table definition (table.tf) must
// declare exactly these names; a contract test compares the two.
const (
	AttrPK     = "pk"     // partition key (S)
	AttrSK     = "sk"     // sort key (S)
	AttrGSI1PK = "gsi1pk" // GSI1 partition key (S): the person (identity)
	AttrGSI1SK = "gsi1sk" // GSI1 sort key (S): item kind and creation time
	AttrGSI2PK = "gsi2pk" // GSI2 partition key (S): item kind (and status)
	AttrGSI2SK = "gsi2sk" // GSI2 sort key (S): creation time
	AttrTTL    = "ttl"    // TTL attribute (N, epoch seconds)

	IndexGSI1 = "gsi1" // by person: a person's sessions and approvals
	IndexGSI2 = "gsi2" // by kind: all sessions, approvals by status, break-glass events
)

// TableSchema returns the CreateTable input for the table: on-demand, the
// key schema above, both GSIs projecting all attributes. TTL (AttrTTL),
// point-in-time recovery and the KMS key are set apart from CreateTable
// (Terraform does; CreateTable does the TTL part for tests and local mode).
func TableSchema(name string) *dynamodb.CreateTableInput {
	str := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	keys := func(pk, sk string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(sk), KeyType: types.KeyTypeRange},
		}
	}
	all := &types.Projection{ProjectionType: types.ProjectionTypeAll}
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			str(AttrPK), str(AttrSK), str(AttrGSI1PK), str(AttrGSI1SK), str(AttrGSI2PK), str(AttrGSI2SK),
		},
		KeySchema: keys(AttrPK, AttrSK),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			{IndexName: aws.String(IndexGSI1), KeySchema: keys(AttrGSI1PK, AttrGSI1SK), Projection: all},
			{IndexName: aws.String(IndexGSI2), KeySchema: keys(AttrGSI2PK, AttrGSI2SK), Projection: all},
		},
	}
}

// CreateTable creates the table with TableSchema, waits until it is active
// and turns TTL on. For tests and local mode; production tables come from
// Terraform.
func CreateTable(ctx context.Context, client *dynamodb.Client, name string) error {
	if _, err := client.CreateTable(ctx, TableSchema(name)); err != nil {
		var inUse *types.ResourceInUseException
		if !errors.As(err, &inUse) {
			return fmt.Errorf("create table %s: %w", name, err)
		}
	}
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 2*time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	_, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(AttrTTL),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("enable TTL on %s: %w", name, err)
	}
	return nil
}

// Keys. Every partition key starts with its item kind, so kinds never
// share a key; "#" separates parts (ARNs, session names, IDs and profile
// names never hold it). Anything a caller chooses freely (an idempotency
// key) goes last, in the sort key, so it cannot reach into another part.
const (
	kindSession    = "SESSION"
	kindApproval   = "APPROVAL"
	kindBreakGlass = "BREAKGLASS"
	kindRate       = "RATE"
	kindPending    = "PENDING"  // pointer to a person's pending approval for a profile
	kindActiveBG   = "BGACTIVE" // lock: a person's active break-glass event for a profile
	kindIdem       = "IDEMPOTENCY"
	kindBlock      = "BLOCK" // a person's re-vending block for a profile
	kindLease      = "LEASE" // a named lease (mutual exclusion with an expiry)
)

// key is an item's primary key.
type key struct{ pk, sk string }

func sessionKey(id string) key    { return key{kindSession + "#" + id, kindSession} }
func approvalKey(id string) key   { return key{kindApproval + "#" + id, kindApproval} }
func breakGlassKey(id string) key { return key{kindBreakGlass + "#" + id, kindBreakGlass} }
func pendingKey(principal, user, profile string) key {
	return key{kindPending + "#" + Identity(principal, user), profile}
}
func activeBGKey(principal, user, profile string) key {
	return key{kindActiveBG + "#" + Identity(principal, user), profile}
}

// blockKey is per person (Person): a block on a trusted user holds through
// every trusted role they sign in with.
func blockKey(principal, user, profile string) key {
	return key{kindBlock + "#" + Person(Identity(principal, user)), profile}
}
func rateKey(k RateKey, window time.Duration, start time.Time) key {
	return key{kindRate + "#" + string(k), strconv.FormatInt(int64(window/time.Second), 10) + "#" + strconv.FormatInt(start.Unix(), 10)}
}
func idemKey(principal, user, k string) key {
	return key{kindIdem + "#" + Identity(principal, user), k}
}
func leaseKey(name string) key { return key{kindLease + "#" + name, kindLease} }

// Index keys.
func personPK(principal, user string) string   { return "PERSON#" + Identity(principal, user) }
func approvalStatusPK(s ApprovalStatus) string { return kindApproval + "#" + string(s) }

// sortTime formats t for sort keys: fixed width, so strings sort as times.
func sortTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// createdSK orders one kind's items by creation time, then ID.
func createdSK(kind string, t time.Time, id string) string {
	return kind + "#" + sortTime(t) + "#" + id
}
