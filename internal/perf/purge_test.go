package perf

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sentinel-tvm/sentinel-tvm/internal/motoserver"
)

// purge deletes every item of every table in moto, straight to moto (not
// through the proxy, so not counted), and returns how many it deleted.
//
// Why: moto's TransactWriteItems deep-copies the whole table once per item
// of the transaction (to roll back on a failed condition), so its cost
// grows with the table, by about a millisecond per 100 items on this
// machine, while DynamoDB's does not. Every vend adds a session record, so
// without this a long run measures moto's copying. Call it only when no
// request is in flight: it does not take dev's lock on moto.
func (d *dev) purge() (int, error) {
	ctx := context.Background()
	c := dynamodb.NewFromConfig(motoserver.Config(d.motoURL))
	tables, err := c.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, table := range tables.TableNames {
		desc, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			return n, err
		}
		var keys []string
		for _, k := range desc.Table.KeySchema {
			keys = append(keys, aws.ToString(k.AttributeName))
		}
		p := dynamodb.NewScanPaginator(c, &dynamodb.ScanInput{TableName: aws.String(table)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return n, err
			}
			for start := 0; start < len(page.Items); start += 25 {
				var reqs []ddbtypes.WriteRequest
				for _, item := range page.Items[start:min(start+25, len(page.Items))] {
					key := map[string]ddbtypes.AttributeValue{}
					for _, k := range keys {
						key[k] = item[k]
					}
					reqs = append(reqs, ddbtypes.WriteRequest{DeleteRequest: &ddbtypes.DeleteRequest{Key: key}})
				}
				out, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]ddbtypes.WriteRequest{table: reqs}})
				if err != nil {
					return n, err
				}
				if len(out.UnprocessedItems) > 0 {
					return n, fmt.Errorf("purge: %d unprocessed deletes", len(out.UnprocessedItems[table]))
				}
				n += len(reqs)
			}
		}
	}
	return n, nil
}
