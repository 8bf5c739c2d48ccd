package engine

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/concord-health/concord"
)

// recorder is a Sender that records the control IDs it delivered and
// whether it was closed.
type recorder struct {
	mu     sync.Mutex
	got    []string
	closed bool
}

func (r *recorder) Deliver(ctx context.Context, m *concord.Message) Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, m.ControlID)
	return Result{Code: "AA"}
}

func (r *recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return nil
}

func (r *recorder) ids() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.got, ",")
}

func (r *recorder) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// TestConfigure: channels change while the engine runs. An unchanged
// destination (same Key) keeps its sender; a new one starts with the
// messages received after it was added; a removed one stops and is
// closed; a changed filter applies to the next message.
func TestConfigure(t *testing.T) {
	a, aUnused, b := &recorder{}, &recorder{}, &recorder{}
	dest := func(name, key string, s Sender) Destination {
		d := fastRetry(name, s)
		d.Key = key
		return d
	}
	eng, _ := runEngineWith(t, Channel{Name: "lab", Destinations: []Destination{dest("a", "k1", a)}})
	receive(t, eng, 1)
	waitFor(t, "a to get LAB-001", func() bool { return a.ids() == "LAB-001" })

	eng.Configure([]Channel{{Name: "lab", Destinations: []Destination{dest("a", "k1", aUnused), dest("b", "k2", b)}}})
	if !aUnused.isClosed() {
		t.Fatal("the unused sender of an unchanged destination was not closed")
	}
	receive(t, eng, 2)
	waitFor(t, "a and b to get LAB-002", func() bool { return a.ids() == "LAB-001,LAB-002" && b.ids() == "LAB-002" })
	if a.isClosed() {
		t.Fatal("an unchanged destination was restarted")
	}

	f, err := CompileFilter(`msg.get("PID-3.1") != "MRN-3"`)
	if err != nil {
		t.Fatal(err)
	}
	eng.Configure([]Channel{{Name: "lab", Filter: f, Destinations: []Destination{dest("b", "k2", &recorder{})}}})
	waitFor(t, "a to be stopped", a.isClosed)
	receive(t, eng, 3) // filtered now
	receive(t, eng, 4)
	waitFor(t, "b to get LAB-004", func() bool { return b.ids() == "LAB-002,LAB-004" })
	time.Sleep(100 * time.Millisecond)
	if a.ids() != "LAB-001,LAB-002" {
		t.Fatalf("a removed destination delivered: %s", a.ids())
	}
	if got := eng.ChannelNames(); strings.Join(got, ",") != "default,lab" {
		t.Fatalf("channel names %v", got)
	}
	eng.Configure([]Channel{{Name: "lab"}, {Name: "rad"}})
	if got := eng.ChannelNames(); strings.Join(got, ",") != "default,lab,rad" {
		t.Fatalf("channel names after adding one: %v", got)
	}
}
