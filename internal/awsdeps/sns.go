package awsdeps

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// SNSAPI is the part of the SNS client the notifier uses.
type SNSAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// SNSNotifier publishes each notification to a topic as a chat message
// (FormatNotification: readable in Slack or Teams through Amazon Q
// Developer in chat applications, and JSON with every field for other
// subscribers), with the event type as message attribute "event" (for
// subscription filters).
type SNSNotifier struct {
	Client   SNSAPI
	TopicARN string
}

// Notify implements vend.Notifier.
func (s *SNSNotifier) Notify(ctx context.Context, n vend.Notification) error {
	body, err := json.Marshal(FormatNotification(n))
	if err != nil {
		return err
	}
	_, err = s.Client.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(s.TopicARN),
		Subject:  aws.String("sentinel-tvm: " + n.Event),
		Message:  aws.String(string(body)),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{
			"event": {DataType: aws.String("String"), StringValue: aws.String(n.Event)},
		},
	})
	return err
}
