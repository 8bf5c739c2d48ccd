package mllp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testMessage returns a synthetic ADT^A01 with the given control ID.
func testMessage(id string) []byte {
	return []byte("MSH|^~\\&|SYNTH-REG|SYNTH-FAC|CONCORD|SYNTH-FAC|20250101120000||ADT^A01|" + id + "|P|2.5\r" +
		"EVN|A01|20250101120000\rPID|1||SYNTH123^^^SYNTH^MR||TESTPATIENT^SYNTHETIC\r")
}

// testAck returns a minimal positive acknowledgment of control ID id.
func testAck(id string) []byte {
	return []byte("MSH|^~\\&|CONCORD|SYNTH-FAC|SYNTH-REG|SYNTH-FAC|20250101120001||ACK^A01|ACK-" + id + "|P|2.5\rMSA|AA|" + id + "\r")
}

// ackHandler acknowledges every message.
func ackHandler() Handler {
	return HandlerFunc(func(ctx context.Context, c *Conn, payload []byte) ([]byte, error) {
		return testAck(ControlID(payload)), nil
	})
}

// testServer is a Server running in the background for one test.
type testServer struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// startServer serves s on addr ("" for a fresh 127.0.0.1 port) until stop
// or the end of the test.
func startServer(t *testing.T, s *Server, addr string) *testServer {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		if err := ts.stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

// stop cancels Serve's context and returns what Serve returned.
func (ts *testServer) stop() error {
	ts.once.Do(func() {
		ts.cancel()
		select {
		case ts.err = <-ts.done:
		case <-time.After(15 * time.Second):
			ts.err = errors.New("Serve did not return")
		}
	})
	return ts.err
}

// errorSink makes s report its errors on the returned channel.
func errorSink(s *Server) <-chan error {
	ch := make(chan error, 64)
	s.OnError = func(c *Conn, err error, skipped int64) {
		select {
		case ch <- err:
		default:
		}
	}
	return ch
}

// waitError waits for an error that satisfies ok.
func waitError(t *testing.T, ch <-chan error, ok func(error) bool) error {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case err := <-ch:
			if ok(err) {
				return err
			}
			t.Logf("other error reported: %v", err)
		case <-timeout:
			t.Fatal("the expected error was not reported")
			return nil
		}
	}
}

func isErr(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

// expectClosed checks that the server closes conn without sending a frame.
func expectClosed(t *testing.T, conn net.Conn) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Read(make([]byte, 64))
	if n > 0 {
		t.Fatalf("server sent %d bytes", n)
	}
	if err == nil || isTimeout(err) {
		t.Fatalf("connection not closed: %v", err)
	}
}

func send(t *testing.T, c *Client, id string) []byte {
	t.Helper()
	ack, err := c.Send(context.Background(), testMessage(id))
	if err != nil {
		t.Fatalf("Send %s: %v", id, err)
	}
	if got := AckControlID(ack); got != id {
		t.Fatalf("Send %s: acknowledgment for %q", id, got)
	}
	return ack
}

func TestServerEcho(t *testing.T) {
	var mu sync.Mutex
	var seen []Conn
	s := &Server{Handler: HandlerFunc(func(ctx context.Context, c *Conn, payload []byte) ([]byte, error) {
		mu.Lock()
		seen = append(seen, *c)
		mu.Unlock()
		return testAck(ControlID(payload)), nil
	})}
	ts := startServer(t, s, "")
	c := &Client{Addr: ts.addr}
	defer c.Close()
	ack := send(t, c, "ECHO1")
	if string(ack) != string(testAck("ECHO1")) {
		t.Fatalf("ack %q", ack)
	}
	send(t, c, "ECHO2")
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0].ID == 0 || seen[0].ID != seen[1].ID {
		t.Fatalf("connections seen: %+v", seen)
	}
	if seen[0].RemoteAddr == nil || seen[0].LocalAddr.String() != ts.addr || seen[0].TLS != nil {
		t.Fatalf("connection: %+v", seen[0])
	}
}

func TestServerRequiresHandler(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := (&Server{}).Serve(context.Background(), ln); err == nil {
		t.Fatal("Serve without a Handler returned nil")
	}
}

// connIDs records the connection of every frame handled.
type connIDs struct {
	mu  sync.Mutex
	ids map[uint64]int
}

func (ci *connIDs) handler() Handler {
	return HandlerFunc(func(ctx context.Context, c *Conn, payload []byte) ([]byte, error) {
		ci.mu.Lock()
		if ci.ids == nil {
			ci.ids = make(map[uint64]int)
		}
		ci.ids[c.ID]++
		ci.mu.Unlock()
		return testAck(ControlID(payload)), nil
	})
}

func (ci *connIDs) count() (conns, frames int) {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	for _, n := range ci.ids {
		frames += n
	}
	return len(ci.ids), frames
}

func TestClientConcurrentSends(t *testing.T) {
	var ci connIDs
	ts := startServer(t, &Server{Handler: ci.handler()}, "")
	c := &Client{Addr: ts.addr}
	defer c.Close()
	const workers, each = 8, 20
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("W%d-%d", w, i)
				ack, err := c.Send(context.Background(), testMessage(id))
				if err != nil {
					t.Errorf("Send %s: %v", id, err)
					return
				}
				if got := AckControlID(ack); got != id {
					t.Errorf("Send %s: acknowledgment for %q", id, got)
				}
			}
		})
	}
	wg.Wait()
	if conns, frames := ci.count(); conns != 1 || frames != workers*each {
		t.Fatalf("%d frames on %d connections, want %d on 1", frames, conns, workers*each)
	}
}

func TestServerManyClients(t *testing.T) {
	var ci connIDs
	ts := startServer(t, &Server{Handler: ci.handler()}, "")
	const clients, each = 5, 10
	var wg sync.WaitGroup
	for k := range clients {
		wg.Go(func() {
			c := &Client{Addr: ts.addr}
			defer c.Close()
			for i := range each {
				id := fmt.Sprintf("C%d-%d", k, i)
				if ack, err := c.Send(context.Background(), testMessage(id)); err != nil || AckControlID(ack) != id {
					t.Errorf("Send %s: %q, %v", id, ack, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if conns, frames := ci.count(); conns != clients || frames != clients*each {
		t.Fatalf("%d frames on %d connections, want %d on %d", frames, conns, clients*each, clients)
	}
}

func TestServerIdleTimeout(t *testing.T) {
	ts := startServer(t, &Server{Handler: ackHandler(), IdleTimeout: 100 * time.Millisecond}, "")
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A frame first: the idle timeout applies between frames too.
	if err := WriteFrame(conn, testMessage("IDLE1")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := NewReader(conn, 0)
	if ack, err := r.ReadFrame(); err != nil || AckControlID(ack) != "IDLE1" {
		t.Fatalf("ack %q, %v", ack, err)
	}
	// Keep-alive newlines are not frames and do not extend the wait.
	for range 3 {
		time.Sleep(20 * time.Millisecond)
		if _, err := conn.Write([]byte("\n")); err != nil {
			break
		}
	}
	// The server closes the connection: io.EOF, or a reset if a newline
	// was still unread when it closed.
	if p, err := r.ReadFrame(); err == nil || isTimeout(err) {
		t.Fatalf("silent connection: %q, %v; want it closed", p, err)
	}
}

func TestServerReadTimeout(t *testing.T) {
	s := &Server{Handler: ackHandler(), ReadTimeout: 100 * time.Millisecond}
	errs := errorSink(s)
	ts := startServer(t, s, "")
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("\x0bMSH|^~\\&|SLOW")); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, conn)
	waitError(t, errs, isTimeout)
}

func TestServerAllowedPeers(t *testing.T) {
	handled := make(chan struct{}, 1)
	s := &Server{
		Handler: HandlerFunc(func(ctx context.Context, c *Conn, payload []byte) ([]byte, error) {
			handled <- struct{}{}
			return testAck(ControlID(payload)), nil
		}),
		AllowedPeers: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	}
	errs := errorSink(s)
	ts := startServer(t, s, "")

	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	expectClosed(t, conn)
	waitError(t, errs, isErr(ErrPeerNotAllowed))

	c := &Client{Addr: ts.addr, AckTimeout: 2 * time.Second}
	defer c.Close()
	if _, err := c.Send(context.Background(), testMessage("DENIED")); err == nil || errors.Is(err, ErrNoAck) {
		t.Fatalf("Send from a refused peer: %v, want connection closed", err)
	}
	select {
	case <-handled:
		t.Fatal("a frame from a refused peer reached the handler")
	default:
	}

	allowed := &Server{Handler: ackHandler(), AllowedPeers: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8")}}
	ts2 := startServer(t, allowed, "")
	c2 := &Client{Addr: ts2.addr}
	defer c2.Close()
	send(t, c2, "ALLOWED")
}

func TestPeerAllowed(t *testing.T) {
	allowed := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	cases := []struct {
		addr net.Addr
		want bool
	}{
		{&net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 1}, true},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:10.1.2.3"), Port: 1}, true},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 1, Zone: "eth0"}, true},
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 1}, false},
		{&net.UnixAddr{Name: "/tmp/x", Net: "unix"}, false},
	}
	for _, tc := range cases {
		if got := peerAllowed(allowed, tc.addr); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.addr, got, tc.want)
		}
	}
	if !peerAllowed(nil, &net.UnixAddr{Name: "/tmp/x", Net: "unix"}) {
		t.Error("an empty list must allow everyone")
	}
}

func TestServerMaxConns(t *testing.T) {
	s := &Server{Handler: ackHandler(), MaxConns: 1}
	errs := errorSink(s)
	ts := startServer(t, s, "")
	c := &Client{Addr: ts.addr}
	defer c.Close()
	send(t, c, "FIRST") // holds the only connection
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	expectClosed(t, conn)
	waitError(t, errs, isErr(errTooManyConns))
	send(t, c, "SECOND")
}

func TestServerMaxFrameSize(t *testing.T) {
	s := &Server{Handler: ackHandler(), MaxFrameSize: 64}
	errs := errorSink(s)
	ts := startServer(t, s, "")
	c := &Client{Addr: ts.addr, AckTimeout: 2 * time.Second}
	defer c.Close()
	big := testMessage("BIG")
	if len(big) <= 64 {
		t.Fatal("test message too small")
	}
	if _, err := c.Send(context.Background(), big); err == nil || errors.Is(err, ErrNoAck) {
		t.Fatalf("Send of an oversized frame: %v, want connection closed", err)
	}
	waitError(t, errs, isErr(ErrFrameTooLarge))
	// The server still serves frames within the limit.
	small := []byte("MSH|^~\\&|A|B|C|D|2025||ADT^A01|SMALL|P\r")
	if ack, err := c.Send(context.Background(), small); err != nil || AckControlID(ack) != "SMALL" {
		t.Fatalf("small frame after a large one: %q, %v", ack, err)
	}
}

func TestServerGarbageAndTruncation(t *testing.T) {
	type report struct {
		err     error
		skipped int64
	}
	reports := make(chan report, 4)
	s := &Server{Handler: ackHandler(), OnError: func(c *Conn, err error, skipped int64) {
		reports <- report{err, skipped}
	}}
	ts := startServer(t, s, "")
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Four bytes of garbage, a frame whose end block has no CR, then a
	// frame cut short by a new start block.
	stream := "\r\n\n \x0b" + string(testMessage("G1")) + "\x1c\x0bMSH|\x0b"
	if _, err := conn.Write([]byte(stream)); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if ack, err := NewReader(conn, 0).ReadFrame(); err != nil || AckControlID(ack) != "G1" {
		t.Fatalf("ack %q, %v", ack, err)
	}
	expectClosed(t, conn)
	select {
	case r := <-reports:
		if !errors.Is(r.err, ErrTruncated) || r.skipped != 4 {
			t.Fatalf("reported %v with %d bytes skipped, want ErrTruncated with 4", r.err, r.skipped)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the truncated frame was not reported")
	}
}

func TestServerHandlerPanic(t *testing.T) {
	s := &Server{Handler: HandlerFunc(func(ctx context.Context, c *Conn, payload []byte) ([]byte, error) {
		if ControlID(payload) == "BOOM" {
			panic("synthetic handler failure")
		}
		return testAck(ControlID(payload)), nil
	})}
	errs := errorSink(s)
	ts := startServer(t, s, "")
	c := &Client{Addr: ts.addr, AckTimeout: 2 * time.Second}
	defer c.Close()
	if _, err := c.Send(context.Background(), testMessage("BOOM")); err == nil || errors.Is(err, ErrNoAck) {
		t.Fatalf("Send to a panicking handler: %v, want connection closed", err)
	}
	waitError(t, errs, func(err error) bool { return strings.Contains(err.Error(), "panic") })
	c2 := &Client{Addr: ts.addr}
	defer c2.Close()
	send(t, c2, "AFTER-PANIC")
	send(t, c, "AFTER-PANIC-SAME-CLIENT")
}

func TestServerHandlerErrorClosesConnection(t *testing.T) {
	boom := errors.New("synthetic handler error")
	s := &Server{Handler: HandlerFunc(func(ctx context.Context, c *Conn, payload []byte) ([]byte, error) {
		if ControlID(payload) == "FAIL" {
			return nil, boom
		}
		return testAck(ControlID(payload)), nil
	})}
	errs := errorSink(s)
	ts := startServer(t, s, "")
	c := &Client{Addr: ts.addr, AckTimeout: 2 * time.Second}
	defer c.Close()
	send(t, c, "BEFORE")
	if _, err := c.Send(context.Background(), testMessage("FAIL")); err == nil || errors.Is(err, ErrNoAck) {
		t.Fatalf("Send to a failing handler: %v, want connection closed", err)
	}
	waitError(t, errs, isErr(boom))
	send(t, c, "AFTER") // the client dials again
}

func TestServerNilResponse(t *testing.T) {
	got := make(chan string, 4)
	s := &Server{Handler: HandlerFunc(func(ctx context.Context, c *Conn, payload []byte) ([]byte, error) {
		id := ControlID(payload)
		got <- id
		if id == "SILENT" {
			return nil, nil
		}
		return testAck(id), nil
	})}
	ts := startServer(t, s, "")
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, id := range []string{"SILENT", "LOUD"} {
		if err := WriteFrame(conn, testMessage(id)); err != nil {
			t.Fatal(err)
		}
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if ack, err := NewReader(conn, 0).ReadFrame(); err != nil || AckControlID(ack) != "LOUD" {
		t.Fatalf("first response %q, %v; want the ack of LOUD only", ack, err)
	}
	if a, b := <-got, <-got; a != "SILENT" || b != "LOUD" {
		t.Fatalf("handled %s, %s", a, b)
	}
}

func TestServerGracefulShutdown(t *testing.T) {
	started := make(chan struct{})
	var finished atomic.Bool
	s := &Server{Handler: HandlerFunc(func(ctx context.Context, c *Conn, payload []byte) ([]byte, error) {
		if ControlID(payload) == "SLOW" {
			close(started)
			time.Sleep(200 * time.Millisecond)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			finished.Store(true)
		}
		return testAck(ControlID(payload)), nil
	})}
	ts := startServer(t, s, "")

	// An idle connection is closed at once on shutdown.
	idle := &Client{Addr: ts.addr}
	defer idle.Close()
	send(t, idle, "IDLE")

	c := &Client{Addr: ts.addr}
	defer c.Close()
	type result struct {
		ack []byte
		err error
	}
	res := make(chan result, 1)
	go func() {
		ack, err := c.Send(context.Background(), testMessage("SLOW"))
		res <- result{ack, err}
	}()
	<-started
	if err := ts.stop(); err != nil {
		t.Fatalf("Serve returned %v, want nil", err)
	}
	if !finished.Load() {
		t.Fatal("Serve returned before the in-flight handler finished")
	}
	select {
	case r := <-res:
		if r.err != nil || AckControlID(r.ack) != "SLOW" {
			t.Fatalf("in-flight Send: %q, %v", r.ack, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the in-flight Send did not return")
	}
	if conn, err := net.Dial("tcp", ts.addr); err == nil {
		conn.Close()
		t.Fatal("the listener still accepts after shutdown")
	}
	if _, err := idle.Send(context.Background(), testMessage("AFTER")); err == nil {
		t.Fatal("Send after shutdown succeeded")
	}
}

// failingListener fails Accept with a permanent error.
type failingListener struct {
	net.Listener
	err error
}

func (l failingListener) Accept() (net.Conn, error) { return nil, l.err }

func TestServeReturnsOnAcceptFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	boom := errors.New("synthetic accept failure")
	s := &Server{Handler: ackHandler()}
	if err := s.Serve(context.Background(), failingListener{ln, boom}); !errors.Is(err, boom) {
		t.Fatalf("Serve returned %v, want the Accept error", err)
	}
}

// temporaryError is an Accept error worth retrying.
type temporaryError struct{}

func (temporaryError) Error() string   { return "synthetic temporary failure" }
func (temporaryError) Temporary() bool { return true }
func (temporaryError) Timeout() bool   { return false }

// flakyListener fails its first Accepts with a temporary error.
type flakyListener struct {
	net.Listener
	mu    sync.Mutex
	fails int
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.fails > 0 {
		l.fails--
		l.mu.Unlock()
		return nil, temporaryError{}
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

func TestServeRetriesTemporaryAcceptErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Server{Handler: ackHandler()}).Serve(ctx, &flakyListener{Listener: ln, fails: 3}) }()
	c := &Client{Addr: ln.Addr().String()}
	defer c.Close()
	send(t, c, "FLAKY")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve returned %v", err)
	}
}

// TestServerAdmit: a connection Admit refuses is closed before any frame
// is read, and reported.
func TestServerAdmit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := make(chan error, 1)
	admit := true
	var mu sync.Mutex
	srv := &Server{
		Handler: HandlerFunc(func(ctx context.Context, c *Conn, p []byte) ([]byte, error) {
			return []byte("MSH|^~\\&|||||||ACK|1|P|2.5\rMSA|AA|" + ControlID(p) + "\r"), nil
		}),
		Admit: func(c *Conn) error {
			mu.Lock()
			defer mu.Unlock()
			if !admit {
				return errors.New("channel paused")
			}
			return nil
		},
		OnError: func(c *Conn, err error, skipped int64) {
			select {
			case refused <- err:
			default:
			}
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, ln); close(done) }()
	defer func() { cancel(); <-done }()
	msg := []byte("MSH|^~\\&|A|B|C|D|2026||ADT^A01|ADM-1|P|2.5\r")
	c := &Client{Addr: ln.Addr().String(), AckTimeout: time.Second}
	if _, err := c.Send(context.Background(), msg); err != nil {
		t.Fatalf("admitted: %v", err)
	}
	c.Close()
	mu.Lock()
	admit = false
	mu.Unlock()
	c2 := &Client{Addr: ln.Addr().String(), AckTimeout: 500 * time.Millisecond}
	defer c2.Close()
	if _, err := c2.Send(context.Background(), msg); err == nil {
		t.Fatal("a refused connection was served")
	}
	select {
	case err := <-refused:
		if err.Error() != "channel paused" {
			t.Fatalf("reported %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("refusal not reported")
	}
}
