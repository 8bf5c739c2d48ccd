package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/internal/store/sqlite"
	"github.com/concord-health/concord/mllp"
)

// partner is a test MLLP receiver that records what it received, in
// order, and answers with code(controlID).
type partner struct {
	mu       sync.Mutex
	received []string
	code     func(id string) string
	addr     string
	stop     context.CancelFunc
	done     chan struct{}
}

func (p *partner) start(t *testing.T) {
	t.Helper()
	addr := p.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may take a moment to free after a stop
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	p.stop, p.done = cancel, make(chan struct{})
	srv := &mllp.Server{Handler: mllp.HandlerFunc(func(ctx context.Context, c *mllp.Conn, payload []byte) ([]byte, error) {
		m, err := hl7v2.Parse(payload)
		if err != nil {
			return nil, err
		}
		code := "AA"
		if p.code != nil {
			code = p.code(m.ControlID())
		}
		if code == "AA" {
			p.mu.Lock()
			p.received = append(p.received, m.ControlID())
			p.mu.Unlock()
		}
		return m.Ack(hl7v2.AckCode(code), nil, hl7v2.AckOptions{ControlID: "P-" + m.ControlID()}).Bytes(), nil
	})}
	go func() { srv.Serve(ctx, ln); close(p.done) }()
}

func (p *partner) shutdown() { p.stop(); <-p.done }

func (p *partner) got() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.received...)
}

func labMessage(i int) string {
	return fmt.Sprintf("MSH|^~\\&|LAB|North|EHR|Ward|20260102030405||ORU^R01^ORU_R01|LAB-%03d|P|2.5.1\r"+
		"PID|1||MRN-%d^^^North^MR||Synthetic^Pat\rOBR|1|O-%d||24331-1^Lipid panel^LN\rOBX|1|NM|2093-3^Cholesterol^LN||182|mg/dL|||||F\r", i, i, i)
}

type filteredEngine struct {
	eng   *Engine
	store concord.Store
}

func newFilteredEngine(t *testing.T, f *Filter, dests ...Destination) filteredEngine {
	eng, st := runEngineWith(t, Channel{Name: "lab", Filter: f, Destinations: dests})
	return filteredEngine{eng, st}
}

func runEngine(t *testing.T, dests ...Destination) (*Engine, concord.Store) {
	return runEngineWith(t, Channel{Name: "lab", Destinations: dests})
}

func runEngineWith(t *testing.T, chs ...Channel) (*Engine, concord.Store) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng := New(Options{Store: st, Node: "n1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Channels: chs})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { eng.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	return eng, st
}

func receive(t *testing.T, eng *Engine, i int) {
	t.Helper()
	ack := eng.Receive(context.Background(), Inbound{Channel: "lab", Peer: "10.1.1.1", Payload: []byte(labMessage(i))})
	if !strings.Contains(string(ack), "MSA|AA|LAB-") {
		t.Fatalf("message %d: %q", i, ack)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func counts(t *testing.T, st concord.Store, dest string) map[string]int64 {
	c, err := st.DeliveryCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c["lab"][dest]
}

func fastRetry(name string, s Sender) Destination {
	return Destination{Name: name, Sender: s, RetryInitial: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		Timeout: time.Second, OnAE: "retry", OnAR: "dead"}
}

// TestOutage: with the destination down, messages queue and are retried
// with backoff; when it returns they are all delivered, in order, once.
func TestOutage(t *testing.T) {
	p := &partner{}
	p.start(t)
	eng, st := runEngine(t, fastRetry("lis", NewMLLPSender(p.addr, time.Second)))
	for i := 1; i <= 5; i++ {
		receive(t, eng, i)
	}
	waitFor(t, "first five delivered", func() bool { return counts(t, st, "lis")[concord.DeliverySent] == 5 })

	p.shutdown()
	for i := 6; i <= 20; i++ {
		receive(t, eng, i) // accepted and stored while the destination is down
	}
	waitFor(t, "retries with backoff", func() bool {
		d, _, _ := st.NextDelivery(context.Background(), "lab", "lis")
		return d != nil && d.Attempts >= 3
	})
	head, _, _ := st.NextDelivery(context.Background(), "lab", "lis")
	if head.LastError == "" || !head.NextAttempt.After(head.CreatedAt) {
		t.Fatalf("head during the outage %+v", head)
	}
	if c := counts(t, st, "lis"); c[concord.DeliveryQueued] != 15 || c[concord.DeliverySent] != 5 {
		t.Fatalf("during the outage %v", c)
	}

	p.start(t) // back on the same address
	waitFor(t, "all delivered", func() bool { return counts(t, st, "lis")[concord.DeliverySent] == 20 })
	got := p.got()
	if len(got) != 20 {
		t.Fatalf("partner received %d messages: %v", len(got), got)
	}
	for i, id := range got {
		if id != fmt.Sprintf("LAB-%03d", i+1) {
			t.Fatalf("out of order at %d: %v", i, got)
		}
	}
}

// TestPartnerAnswers: AE is retried (policy retry) until accepted; AR
// stops that delivery (policy dead) and the queue moves on.
func TestPartnerAnswers(t *testing.T) {
	var mu sync.Mutex
	aeLeft := 2
	p := &partner{code: func(id string) string {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case id == "LAB-002" && aeLeft > 0:
			aeLeft--
			return "AE"
		case id == "LAB-003":
			return "AR"
		}
		return "AA"
	}}
	p.start(t)
	defer p.shutdown()
	eng, st := runEngine(t, fastRetry("lis", NewMLLPSender(p.addr, time.Second)))
	for i := 1; i <= 4; i++ {
		receive(t, eng, i)
	}
	waitFor(t, "queue drained", func() bool {
		c := counts(t, st, "lis")
		return c[concord.DeliverySent] == 3 && c[concord.DeliveryDead] == 1
	})
	if got := fmt.Sprint(p.got()); got != "[LAB-001 LAB-002 LAB-004]" {
		t.Fatalf("partner accepted %s", got)
	}
}

func TestFileAndHTTPDestinations(t *testing.T) {
	dir := t.TempDir()
	fs, err := NewFileSender(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var posted []string
	fail := 1
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if fail > 0 { // one 503 first: retried
			fail--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get("Content-Type") != "x-application/hl7-v2+er7" || !strings.HasPrefix(string(b), "MSH|") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		posted = append(posted, strings.Split(string(b), "|")[9])
	}))
	defer hs.Close()
	eng, st := runEngine(t, fastRetry("archive", fs), fastRetry("hook", NewHTTPSender(hs.URL, time.Second)))
	for i := 1; i <= 3; i++ {
		receive(t, eng, i)
	}
	waitFor(t, "both delivered", func() bool {
		return counts(t, st, "archive")[concord.DeliverySent] == 3 && counts(t, st, "hook")[concord.DeliverySent] == 3
	})
	files, _ := filepath.Glob(filepath.Join(dir, "out", "lab-*.hl7"))
	if len(files) != 3 {
		t.Fatalf("files %v", files)
	}
	b, _ := os.ReadFile(files[0])
	if !strings.HasPrefix(string(b), "MSH|") || strings.Contains(string(b), "\n") {
		t.Fatalf("file content %q", b)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(posted) != "[LAB-001 LAB-002 LAB-003]" {
		t.Fatalf("posted %v", posted)
	}
}

// TestOutcomePolicy checks the backoff and the policies at their edges.
func TestOutcomePolicy(t *testing.T) {
	d := &Destination{RetryInitial: time.Second, RetryMax: 5 * time.Second, MaxAttempts: 5, OnAE: "retry", OnAR: "dead"}
	now := time.Unix(1000, 0)
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 5 * time.Second} {
		o := outcome(d, attempt, Result{Err: fmt.Errorf("refused")}, now)
		if o.Status != concord.DeliveryQueued || o.NextAttempt.Sub(now) != want {
			t.Errorf("attempt %d: %+v, want retry after %s", attempt, o, want)
		}
	}
	if o := outcome(d, 5, Result{Err: fmt.Errorf("refused")}, now); o.Status != concord.DeliveryDead {
		t.Errorf("last attempt: %+v", o)
	}
	if o := outcome(d, 1, Result{Code: "AE"}, now); o.Status != concord.DeliveryQueued {
		t.Errorf("AE with retry: %+v", o)
	}
	if o := outcome(d, 1, Result{Code: "AR"}, now); o.Status != concord.DeliveryDead {
		t.Errorf("AR with dead: %+v", o)
	}
	if o := outcome(d, 1, Result{Code: "AA"}, now); o.Status != concord.DeliverySent {
		t.Errorf("AA: %+v", o)
	}
	forever := &Destination{RetryInitial: time.Second, RetryMax: time.Hour, OnAE: "dead", OnAR: "retry"}
	if o := outcome(forever, 1000, Result{Err: fmt.Errorf("x")}, now); o.Status != concord.DeliveryQueued || o.NextAttempt.Sub(now) != time.Hour {
		t.Errorf("no attempt limit: %+v", o)
	}
}

// TestStoppedChannelDelivers nothing until started; paused, it delivers.
func TestStoppedChannelDelivers(t *testing.T) {
	p := &partner{}
	p.start(t)
	defer p.shutdown()
	eng, st := runEngine(t, fastRetry("lis", NewMLLPSender(p.addr, time.Second)))
	op := concord.AuditRecord{Actor: "operator", Role: "integration", Address: "local"}
	if err := eng.SetState(context.Background(), "lab", concord.ChannelStopped, op); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		receive(t, eng, i)
	}
	time.Sleep(3 * stateTTL)
	if c := counts(t, st, "lis"); c[concord.DeliverySent] != 0 || c[concord.DeliveryQueued] != 3 {
		t.Fatalf("a stopped channel delivered: %v", c)
	}
	if err := eng.SetState(context.Background(), "lab", concord.ChannelPaused, op); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery while paused", func() bool { return counts(t, st, "lis")[concord.DeliverySent] == 3 })
	if err := eng.SetState(context.Background(), "nope", concord.ChannelStopped, op); concord.ErrorCode(err) != concord.ENOTFOUND {
		t.Fatalf("unknown channel: %v", err)
	}
}
