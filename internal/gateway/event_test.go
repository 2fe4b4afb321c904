package gateway

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// dataMaps hold request data, not event structure: their keys are not compared.
var dataMaps = map[string]bool{
	"headers": true, "multiValueHeaders": true, "queryStringParameters": true,
	"multiValueQueryStringParameters": true, "pathParameters": true, "stageVariables": true,
}

// keyPaths lists the dotted paths of every key in a decoded JSON object.
func keyPaths(prefix string, v any) []string {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	var out []string
	for k, child := range m {
		p := prefix + k
		out = append(out, p)
		if !dataMaps[p] {
			out = append(out, keyPaths(p+".", child)...)
		}
	}
	slices.Sort(out)
	return out
}

func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEventMatchesAPIGatewayExample compares the event the gateway builds
// with testdata/rest-api-iam-event.json, written from AWS's documented REST
// API proxy-integration input (identity filled as for AWS_IAM auth; no mutual
// TLS, so clientCert is null; no authorizer object, which IAM auth does not add).
func TestEventMatchesAPIGatewayExample(t *testing.T) {
	example, err := os.ReadFile("testdata/rest-api-iam-event.json")
	if err != nil {
		t.Fatal(err)
	}
	h := newTestHandler(t, &fakeBackend{}, nil)
	r := signed(t, req{target: "http://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/v1/sessions/3f1c2a9e?active=true"})
	rt, params, ok := h.match(r.Method, r.URL.EscapedPath())
	if !ok {
		t.Fatal("no route")
	}
	id := alice
	id.AccessKey = tempKey
	built, err := json.Marshal(h.event(r, nil, id, rt, params, testRequestID, testNow))
	if err != nil {
		t.Fatal(err)
	}

	want, got := decodeJSON(t, example), decodeJSON(t, built)
	if w, g := keyPaths("", want), keyPaths("", got); !slices.Equal(w, g) {
		t.Errorf("keys differ:\n got  %v\n want %v", g, w)
	}
	// Values the example fixes and the gateway must reproduce.
	for _, path := range [][]string{
		{"resource"}, {"path"}, {"httpMethod"}, {"pathParameters"}, {"stageVariables"}, {"body"}, {"isBase64Encoded"},
		{"queryStringParameters"}, {"multiValueQueryStringParameters"},
		{"requestContext", "identity"}, {"requestContext", "resourcePath"}, {"requestContext", "path"},
		{"requestContext", "stage"}, {"requestContext", "accountId"}, {"requestContext", "apiId"},
		{"requestContext", "domainName"}, {"requestContext", "domainPrefix"}, {"requestContext", "protocol"},
	} {
		w, g := lookup(want, path), lookup(got, path)
		if path[len(path)-1] == "identity" {
			// sourceIp and userAgent depend on the connection.
			g.(map[string]any)["sourceIp"], g.(map[string]any)["userAgent"] = w.(map[string]any)["sourceIp"], w.(map[string]any)["userAgent"]
		}
		if !reflect.DeepEqual(w, g) {
			t.Errorf("%v = %#v, want %#v", path, g, w)
		}
	}

	// The example decodes into the type the backend receives.
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(example, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.RequestContext.Identity.UserArn != alice.UserARN || ev.PathParameters["id"] != "3f1c2a9e" {
		t.Errorf("decoded example: %+v", ev)
	}
}

func lookup(m map[string]any, path []string) any {
	var v any = m
	for _, k := range path {
		v = v.(map[string]any)[k]
	}
	return v
}
