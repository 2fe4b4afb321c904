package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sentinel-tvm/sentinel-tvm/client"
)

// urlEnv is where every command that calls the TVM reads its URL when --url
// is not given.
const urlEnv = "SENTINEL_TVM_URL"

// clientOptions are the connection flags of every command that calls the
// TVM: --url, --region and --source-profile, and --json for the commands
// that print the service's answer. A command embeds it (or gets one from
// clientCommand), registers its flags, and calls newClient.
type clientOptions struct {
	url           string
	region        string
	sourceProfile string
	json          bool
	raw           *captureTransport // the last answer's body, for --json
	mode          string            // the client mode newClient declares; default other
}

// registerConnection registers --url, --region and --source-profile.
func (o *clientOptions) registerConnection(f *pflag.FlagSet) {
	f.StringVar(&o.url, "url", "", "the TVM's URL: the API Gateway stage URL, or `sentinel-tvm dev`'s http://HOST:PORT (default: $"+urlEnv+")")
	f.StringVar(&o.region, "region", "", "region to sign for (default: from an execute-api URL, else AWS_REGION or the source profile's)")
	f.StringVar(&o.sourceProfile, "source-profile", "", "shared-config profile whose credentials sign the requests (default: the default chain)")
}

// register registers the connection flags and --json.
func (o *clientOptions) register(f *pflag.FlagSet) {
	o.registerConnection(f)
	f.BoolVar(&o.json, "json", false, "print the service's JSON answer as is, for scripts")
}

// checkURL takes the URL from $SENTINEL_TVM_URL when --url is not given
// and checks it; every problem is a usage error.
func (o *clientOptions) checkURL() error {
	source := "--url"
	if o.url == "" {
		o.url, source = os.Getenv(urlEnv), urlEnv
	}
	if o.url == "" {
		return usagef("--url is required (or set %s)", urlEnv)
	}
	if u, err := url.Parse(o.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return usagef("%s %q is not an http(s) URL (no credentials, query or fragment)", source, o.url)
	}
	return nil
}

// newClient is newClientAs with the command's mode (o.mode), "other" for
// the commands that are plain API calls.
func (o *clientOptions) newClient() (*client.Client, error) {
	if o.mode != "" {
		return o.newClientAs(o.mode)
	}
	return o.newClientAs(client.ModeOther)
}

// newClientAs checks the URL and builds the signing client, which tells the
// service the client mode (how the command is used); with --json it records
// the bodies of the answers for print. A URL that names no region without
// --region is a usage error.
func (o *clientOptions) newClientAs(mode string) (*client.Client, error) {
	if err := o.checkURL(); err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 10 * time.Second
	tr.ResponseHeaderTimeout = client.DefaultTimeout
	var rt http.RoundTripper = tr
	if o.json {
		o.raw = &captureTransport{base: tr}
		rt = o.raw
	}
	opts := []client.Option{client.WithUserAgent("sentinel-tvm/" + Version), client.WithMode(mode),
		client.WithHTTPClient(&http.Client{Transport: rt, Timeout: client.DefaultTimeout})}
	if o.region != "" {
		opts = append(opts, client.WithRegion(o.region))
	}
	if o.sourceProfile != "" {
		opts = append(opts, client.WithSourceProfile(o.sourceProfile))
	}
	c, err := client.New(o.url, opts...)
	if err != nil {
		if errors.Is(err, client.ErrNoRegion) {
			return nil, usagef("%s: the URL names no region; pass --region", o.url)
		}
		return nil, refusal(err)
	}
	return c, nil
}

// print writes the answer: the service's JSON with --json, else the human
// form that human writes as tab-separated rows.
func (o *clientOptions) print(w io.Writer, human func(*tabwriter.Writer)) error {
	if o.json {
		return writeJSON(w, o.raw.body())
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	human(tw)
	return tw.Flush()
}

// writeJSON writes the service's JSON body compacted, on one line.
func writeJSON(w io.Writer, body []byte) error {
	var out bytes.Buffer
	if err := json.Compact(&out, body); err != nil {
		return failf("the TVM answered malformed JSON")
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}

// clientCommand is the one way to build a command that calls the TVM: it
// registers the connection flags and --json on cmd, and its run gets a
// ready client. run returns the client's errors as they are (they become
// the one-line refusal, exit 1), usagef for bad flags, and prints with
// o.print or printList.
func clientCommand(cmd *cobra.Command, o *clientOptions, run func(ctx context.Context, c *client.Client, stdout io.Writer) error) *cobra.Command {
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := o.newClient()
		if err != nil {
			return err
		}
		err = run(cmd.Context(), c, cmd.OutOrStdout())
		var ee exitError
		if err != nil && !errors.As(err, &ee) {
			return refusal(err)
		}
		return err
	}
	o.register(cmd.Flags())
	return cmd
}

// printList writes a list answer: the service's JSON with --json, else a
// table with header and one row of cells per item.
func printList[T any](o *clientOptions, w io.Writer, items []T, header []string, cells func(T) []string) error {
	return o.print(w, func(tw *tabwriter.Writer) {
		row(tw, header...)
		for _, it := range items {
			row(tw, cells(it)...)
		}
	})
}

// refusal words any client error as one line (exit 1): the service's code,
// its message and the request ID. Nothing in it comes from credential
// material.
func refusal(err error) exitError {
	var e *client.Error
	if errors.As(err, &e) {
		return exitError{ExitFailure, oneLine(e.Error())}
	}
	return exitError{ExitFailure, oneLine(strings.TrimPrefix(err.Error(), "client: "))}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// captureTransport keeps the body of the last answer.
type captureTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	last []byte
}

func (c *captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	c.mu.Lock()
	c.last = data
	c.mu.Unlock()
	return resp, nil
}

func (c *captureTransport) body() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}
