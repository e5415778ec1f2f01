package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	storycastv1 "github.com/storycast/storycast/clients/go/gen/storycast/v1"
)

// fakeStoryService replays a fixed list of events, then returns err.
type fakeStoryService struct {
	storycastv1.UnimplementedStoryServiceServer
	events        []*storycastv1.SendStoryResponse
	err           error
	got           *storycastv1.SendStoryRequest
	authorization []string
}

func (f *fakeStoryService) SendStory(req *storycastv1.SendStoryRequest, stream grpc.ServerStreamingServer[storycastv1.SendStoryResponse]) error {
	f.got = req
	md, _ := metadata.FromIncomingContext(stream.Context())
	f.authorization = md.Get("authorization")
	for _, ev := range f.events {
		if err := stream.Send(ev); err != nil {
			return err
		}
	}
	return f.err
}

// dial starts svc on an in-memory listener and returns a client for it.
func dial(t *testing.T, svc storycastv1.StoryServiceServer) storycastv1.StoryServiceClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	storycastv1.RegisterStoryServiceServer(srv, svc)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return storycastv1.NewStoryServiceClient(conn)
}

func planned(total uint32, invalid int) *storycastv1.SendStoryResponse {
	p := &storycastv1.SendPlanned{TotalRecipients: total, Strategy: "adaptive"}
	for i := 0; i < invalid; i++ {
		p.InvalidRecipients = append(p.InvalidRecipients, &storycastv1.InvalidRecipient{Input: "x", Reason: "bad"})
	}
	return &storycastv1.SendStoryResponse{Event: &storycastv1.SendStoryResponse_Planned{Planned: p}}
}

func anchor() *storycastv1.SendStoryResponse {
	return &storycastv1.SendStoryResponse{Event: &storycastv1.SendStoryResponse_Anchor{
		Anchor: &storycastv1.AnchorSent{MessageId: "MID", Recipients: 1, DurationMs: 5, Attempts: 1}}}
}

func batch(index, size uint32, ok bool, next uint32, reason string) *storycastv1.SendStoryResponse {
	return &storycastv1.SendStoryResponse{Event: &storycastv1.SendStoryResponse_Batch{Batch: &storycastv1.BatchSent{
		Index: index, Size: size, Ok: ok, DurationMs: 12, NextBatchSize: next, Reason: reason}}}
}

func summary(delivered, total uint32, failed int) *storycastv1.SendStoryResponse {
	s := &storycastv1.SendSummary{MessageId: "MID", Delivered: delivered, Total: total, Batches: 2}
	for i := 0; i < failed; i++ {
		s.Failed = append(s.Failed, &storycastv1.FailedRecipient{Recipient: "r", Code: "SEND_FAILED", Reason: "no"})
	}
	return &storycastv1.SendStoryResponse{Event: &storycastv1.SendStoryResponse_Summary{Summary: s}}
}

func send(t *testing.T, svc *fakeStoryService) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := SendStory(context.Background(), dial(t, svc), &storycastv1.SendStoryRequest{SessionId: "s"}, &out)
	return out.String(), code
}

func TestSendStoryPrintsEventsAndExitsZero(t *testing.T) {
	out, code := send(t, &fakeStoryService{events: []*storycastv1.SendStoryResponse{
		planned(11, 1), anchor(),
		batch(0, 4, false, 2, "failed: halving"),
		batch(1, 10, true, 0, "all recipients sent"),
		summary(11, 11, 0),
	}})
	want := "planned total=11 invalid=1 strategy=adaptive\n" +
		"batch 0 size=4 ok=false duration_ms=12 next=2 reason=failed: halving\n" +
		"batch 1 size=10 ok=true duration_ms=12 next=0 reason=all recipients sent\n" +
		"summary delivered=11 total=11 failed=0 batches=2 message_id=MID\n"
	if out != want || code != 0 {
		t.Fatalf("code=%d out:\n%s\nwant code=0 out:\n%s", code, out, want)
	}
}

func TestSendStoryExitsTwoWhenSomeFailed(t *testing.T) {
	out, code := send(t, &fakeStoryService{events: []*storycastv1.SendStoryResponse{
		planned(3, 0), anchor(), summary(1, 3, 2),
	}})
	if code != 2 || !strings.HasSuffix(out, "summary delivered=1 total=3 failed=2 batches=2 message_id=MID\n") {
		t.Fatalf("code=%d out:\n%s", code, out)
	}
}

func TestSendStoryPrintsErrorInfoReason(t *testing.T) {
	st, err := status.New(codes.InvalidArgument, "no valid recipient").WithDetails(
		&errdetails.ErrorInfo{Reason: "NO_VALID_RECIPIENTS", Domain: "storycast"})
	if err != nil {
		t.Fatal(err)
	}
	out, code := send(t, &fakeStoryService{err: st.Err()})
	if want := "error code=InvalidArgument reason=NO_VALID_RECIPIENTS message=no valid recipient\n"; out != want || code != 1 {
		t.Fatalf("code=%d out=%q want %q", code, out, want)
	}
}

func TestSendStoryErrorWithoutDetails(t *testing.T) {
	out, code := send(t, &fakeStoryService{events: []*storycastv1.SendStoryResponse{planned(3, 0)},
		err: status.Error(codes.Unavailable, "shutting down")})
	want := "planned total=3 invalid=0 strategy=adaptive\nerror code=Unavailable reason=- message=shutting down\n"
	if out != want || code != 1 {
		t.Fatalf("code=%d out=%q want %q", code, out, want)
	}
}

func TestSendStoryWithoutSummaryIsAnError(t *testing.T) {
	out, code := send(t, &fakeStoryService{events: []*storycastv1.SendStoryResponse{planned(3, 0), anchor()}})
	if code != 1 || !strings.Contains(out, "error code=Unknown reason=- message=stream ended without a summary") {
		t.Fatalf("code=%d out=%q", code, out)
	}
}

func TestFakeRecipients(t *testing.T) {
	r := FakeRecipients(3)
	if strings.Join(r, ",") != "+15550000000,+15550000001,+15550000002" {
		t.Fatalf("got %v", r)
	}
}

func TestRunSendsFlagsAsRequest(t *testing.T) {
	t.Setenv("STORYCAST_API_KEY", "")
	svc := &fakeStoryService{events: []*storycastv1.SendStoryResponse{planned(3, 0), anchor(), summary(3, 3, 0)}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	storycastv1.RegisterStoryServiceServer(srv, svc)
	go srv.Serve(lis)
	defer srv.Stop()

	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-server", lis.Addr().String(), "-session", "s1",
		"-recipients", "2", "-strategy", "aggressive", "-text", "hi", "-recipient", "a", "-recipient", "b"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("code=%d out=%q err=%q", code, out.String(), errOut.String())
	}
	g := svc.got
	if g.GetSessionId() != "s1" || g.GetStrategy() != "aggressive" || g.GetStory().GetText().GetText() != "hi" ||
		strings.Join(g.GetRecipients(), ",") != "a,b,+15550000000,+15550000001" {
		t.Fatalf("request = %v", g)
	}
	if len(svc.authorization) != 0 {
		t.Fatalf("authorization sent without a key: %v", svc.authorization)
	}

	// The key, from -api-key or else STORYCAST_API_KEY, as a bearer token.
	for _, tc := range []struct {
		args []string
		env  string
	}{{[]string{"-api-key", "sk-flag"}, "sk-env"}, {nil, "sk-env"}} {
		t.Setenv("STORYCAST_API_KEY", tc.env)
		args := append([]string{"-server", lis.Addr().String(), "-session", "s1", "-recipients", "1"}, tc.args...)
		if code := run(context.Background(), args, &out, &errOut); code != 0 {
			t.Fatalf("code=%d out=%q err=%q", code, out.String(), errOut.String())
		}
		want := "Bearer sk-env"
		if tc.args != nil {
			want = "Bearer sk-flag"
		}
		if strings.Join(svc.authorization, ",") != want {
			t.Fatalf("authorization = %v, want %q", svc.authorization, want)
		}
	}
}

// TestLiveServer runs against a real storycast server when STORYCAST_ADDR is
// set (e.g. STORYCAST_ADDR=127.0.0.1:50078 go test ./...); with API keys on
// that server, STORYCAST_API_KEY gives one.
func TestLiveServer(t *testing.T) {
	addr := os.Getenv("STORYCAST_ADDR")
	if addr == "" {
		t.Skip("STORYCAST_ADDR not set")
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"-server", addr, "-session", "go-live-test", "-recipients", "3000"}, &out, &errOut); code != 0 {
		t.Fatalf("code=%d out=%s err=%s", code, out.String(), errOut.String())
	}
	if !strings.HasPrefix(out.String(), "planned total=3000 invalid=0 ") ||
		!strings.Contains(out.String(), "\nbatch 0 size=") ||
		!strings.Contains(out.String(), "\nsummary delivered=3000 total=3000 failed=0 ") {
		t.Fatalf("unexpected output:\n%s", out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"-server", addr, "-session", "go-live-test", "-recipient", "nope"}, &out, &errOut); code != 1 ||
		!strings.HasPrefix(out.String(), "error code=InvalidArgument reason=NO_VALID_RECIPIENTS message=") {
		t.Fatalf("code=%d out=%s", code, out.String())
	}
}
