// Command send-story streams SendStory to a storycast server and prints one
// line per planned/batch/summary event; an error is reported by its gRPC code
// and google.rpc.ErrorInfo reason.
//
//	go run ./examples/send-story -server 127.0.0.1:50051 -session demo -recipients 3000
//
// A server with API keys (STORYCAST_API_KEYS) needs one: set STORYCAST_API_KEY
// (or pass -api-key); it is sent as `authorization: Bearer <key>` metadata.
//
// Exit status: 0 when every recipient was delivered, 2 when some failed, 1 on
// an error (bad flags, RPC error, stream ended without a summary).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	storycastv1 "github.com/storycast/storycast/clients/go/gen/storycast/v1"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses args, sends the story and prints its events to out; it returns
// the process exit code.
func run(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs := flag.NewFlagSet("send-story", flag.ContinueOnError)
	fs.SetOutput(errOut)
	server := fs.String("server", "127.0.0.1:50051", "storycast server address, HOST:PORT")
	session := fs.String("session", "demo", "WhatsApp session id to send from")
	count := fs.Int("recipients", 0, "number of fake recipients (+1555xxxxxxx) to add")
	strategy := fs.String("strategy", "", "batch-size strategy name; empty for the server default")
	text := fs.String("text", "Hello from the Go client", "text of the status")
	// The environment is the better place: other users can see a command line.
	apiKey := fs.String("api-key", os.Getenv("STORYCAST_API_KEY"), "API key, when the server needs one (default: $STORYCAST_API_KEY)")
	var explicit stringList
	fs.Var(&explicit, "recipient", "a recipient (JID or phone number); repeatable, sent before the fake ones")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if *count < 0 {
		fmt.Fprintln(errOut, "send-story: -recipients must be >= 0")
		return 1
	}

	conn, err := grpc.NewClient(*server, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		printError(out, err)
		return 1
	}
	defer conn.Close()

	req := &storycastv1.SendStoryRequest{
		SessionId: *session,
		Story: &storycastv1.Story{Content: &storycastv1.Story_Text{
			Text: &storycastv1.TextStory{Text: *text},
		}},
		Recipients: append(append([]string{}, explicit...), FakeRecipients(*count)...),
		Strategy:   *strategy,
	}
	return SendStory(WithAPIKey(ctx, *apiKey), storycastv1.NewStoryServiceClient(conn), req, out)
}

// WithAPIKey returns ctx with the key as `authorization: Bearer <key>`
// metadata on the calls made with it; an empty key adds nothing. Metadata
// rather than grpc.PerRPCCredentials, which grpc-go refuses to send over the
// plaintext connection this example dials.
func WithAPIKey(ctx context.Context, key string) context.Context {
	if key == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
}

// FakeRecipients returns n distinct fake numbers: +15550000000, +15550000001, ...
func FakeRecipients(n int) []string {
	r := make([]string, n)
	for i := range r {
		r[i] = fmt.Sprintf("+1555%07d", i)
	}
	return r
}

// SendStory streams one send, printing one line per planned, batch and
// summary event, and returns the exit code: 0 when nothing failed, 2 when
// some recipients failed, 1 on an error.
func SendStory(ctx context.Context, client storycastv1.StoryServiceClient, req *storycastv1.SendStoryRequest, out io.Writer) int {
	stream, err := client.SendStory(ctx, req)
	if err != nil {
		printError(out, err)
		return 1
	}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			printError(out, status.Error(codes.Unknown, "stream ended without a summary"))
			return 1
		}
		if err != nil {
			printError(out, err)
			return 1
		}
		switch ev := resp.GetEvent().(type) {
		case *storycastv1.SendStoryResponse_Planned:
			p := ev.Planned
			fmt.Fprintf(out, "planned total=%d invalid=%d strategy=%s\n",
				p.GetTotalRecipients(), len(p.GetInvalidRecipients()), p.GetStrategy())
		case *storycastv1.SendStoryResponse_Batch:
			b := ev.Batch
			fmt.Fprintf(out, "batch %d size=%d ok=%t duration_ms=%d next=%d reason=%s\n",
				b.GetIndex(), b.GetSize(), b.GetOk(), b.GetDurationMs(), b.GetNextBatchSize(), b.GetReason())
		case *storycastv1.SendStoryResponse_Summary:
			s := ev.Summary
			fmt.Fprintf(out, "summary delivered=%d total=%d failed=%d batches=%d message_id=%s\n",
				s.GetDelivered(), s.GetTotal(), len(s.GetFailed()), s.GetBatches(), s.GetMessageId())
			// The summary is the last event; drain the stream so the call ends cleanly.
			for {
				if _, err := stream.Recv(); err != nil {
					break
				}
			}
			if len(s.GetFailed()) == 0 {
				return 0
			}
			return 2
		}
		// The anchor event has no line of its own; its message id is in the summary.
	}
}

// printError prints `error code=<Code> reason=<ErrorInfo reason or -> message=<message>`.
func printError(out io.Writer, err error) {
	st, _ := status.FromError(err) // a non-status error becomes Unknown with err's text
	reason := "-"
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() != "" {
			reason = info.GetReason()
			break
		}
	}
	fmt.Fprintf(out, "error code=%s reason=%s message=%s\n", st.Code(), reason, st.Message())
}
