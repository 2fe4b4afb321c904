package vend

import "github.com/aws/aws-lambda-go/events"

// Request is the API Gateway REST API proxy event. It is
// events.APIGatewayProxyRequest with the identity field that struct lacks
// (principalOrgId); the outer fields shadow the embedded ones in JSON.
type Request struct {
	events.APIGatewayProxyRequest
	RequestContext RequestContext `json:"requestContext"`
}

// RequestContext is events.APIGatewayProxyRequestContext with Identity.
type RequestContext struct {
	events.APIGatewayProxyRequestContext
	Identity Identity `json:"identity"`
}

// Identity is the IAM authorization context API Gateway sets for AWS_IAM
// auth: who signed the request. Nothing else identifies the caller.
type Identity struct {
	events.APIGatewayRequestIdentity
	PrincipalOrgID string `json:"principalOrgId,omitempty"`
}

// Response is the proxy integration response.
type Response = events.APIGatewayProxyResponse
