// Package engine is Concord's interface engine: it receives messages on
// channels, checks them, stores them durably with their audit record and
// answers the sender only after the commit. Filters, transformers,
// destinations and their queues build on this receive path.
package engine

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// DefaultChannel is the channel that serves the --mllp port when no
// channel is configured: it stores every message and acknowledges it.
const DefaultChannel = "default"

// Options configure an Engine.
type Options struct {
	Store  concord.Store
	Logger *slog.Logger
	// Node names this node in audit records and in MSH-4 of acknowledgments.
	Node string
	// DuplicateWindow is how long a repeated control ID from the same
	// sender is answered without processing again; 0 means 24 hours,
	// a negative value turns the check off.
	DuplicateWindow time.Duration
	// Validate checks a parsed message; nil checks only what the
	// acknowledgment itself needs (a control ID).
	Validate func(*hl7v2.Message) []hl7v2.Issue
	// Now returns the time; time.Now when nil.
	Now func() time.Time
	// Channels lists the channels with destinations; a channel not listed
	// (such as the default one) only stores what it receives. Configure
	// replaces them while the engine runs.
	Channels []Channel
	// Retention, when positive, is how long message content is kept (see
	// Store.PruneContent); Run prunes older content every hour.
	Retention time.Duration
}

// Engine receives, checks, stores and acknowledges interface messages.
type Engine struct {
	opt     Options
	prefix  string
	seq     atomic.Uint64
	owner   string // this engine's name for destination leases
	metrics *metrics
	// progress wakes answers waiting on deliveries (respond.go).
	progress progress

	chans        atomic.Pointer[[]Channel] // the channels now (Configure)
	reconfigured chan struct{}             // tells Run the channels changed
	destIDs      atomic.Uint64             // numbers destinations as Configure starts them
	appAckMu     sync.Mutex                // serialises afterDestinations

	wakeMu sync.Mutex
	wakes  map[string]chan struct{}

	stateMu  sync.Mutex
	states   map[string]string // operator-set channel states, from the store
	statesAt time.Time         // when states was read
}

// New returns an engine.
func New(opt Options) *Engine {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.DuplicateWindow == 0 {
		opt.DuplicateWindow = 24 * time.Hour
	}
	var b [4]byte
	rand.Read(b[:])
	prefix := "CNC" + hex.EncodeToString(b[:])
	e := &Engine{opt: opt, prefix: prefix, owner: opt.Node + "/" + prefix, metrics: newMetrics(),
		reconfigured: make(chan struct{}, 1)}
	e.Configure(opt.Channels)
	return e
}

// Configure replaces the engine's channels while it runs: messages
// received from now on follow the new filters, transformers and
// destinations, and Run starts the queue loops of new destinations and
// stops those of removed ones. A destination whose Key is unchanged keeps
// its loop and sender (the new Sender, unused, is closed); one whose Key
// changed, or that has no Key, is restarted: an attempt in flight is
// finished or, if cut short, tried again. Queued deliveries stay in the
// store whatever changes, and a destination added back later sends them.
func (e *Engine) Configure(chs []Channel) {
	old := map[string]*Destination{}
	if cur := e.chans.Load(); cur != nil {
		for i := range *cur {
			for _, d := range (*cur)[i].queues() {
				if d.Key != "" {
					old[(*cur)[i].Name+"\x00"+d.Name+"\x00"+d.Key] = d
				}
			}
		}
	}
	// Copied so the senders can be set without changing the caller's slice.
	next := make([]Channel, len(chs))
	for i, ch := range chs {
		ch.Destinations = append([]Destination(nil), ch.Destinations...)
		if ch.AppAck != nil {
			a := *ch.AppAck
			ch.AppAck = &a
		}
		for _, d := range ch.queues() {
			if prev, ok := old[ch.Name+"\x00"+d.Name+"\x00"+d.Key]; ok && d.Key != "" {
				if d.Sender != nil && !sameSender(d.Sender, prev.Sender) {
					d.Sender.Close()
				}
				*d = *prev
				continue
			}
			d.id = e.destIDs.Add(1)
			if d.Sender == nil && d.Channel != "" {
				d.Sender = &channelSender{eng: e, from: ch.Name, to: d.Channel}
			}
		}
		next[i] = ch
	}
	e.chans.Store(&next)
	select {
	case e.reconfigured <- struct{}{}:
	default:
	}
}

// sameSender reports whether a and b are the same sender value.
func sameSender(a, b Sender) bool {
	return reflect.TypeOf(a) == reflect.TypeOf(b) && reflect.TypeOf(a).Comparable() && a == b
}

// channels returns the current channels.
func (e *Engine) channels() []Channel {
	if p := e.chans.Load(); p != nil {
		return *p
	}
	return nil
}

// ackControlID returns a control ID for an acknowledgment, unique on this
// node: a random prefix chosen at start and a counter.
func (e *Engine) ackControlID() string {
	return e.prefix + "-" + strconv.FormatUint(e.seq.Add(1), 10)
}

// channel returns a channel's configuration, or nil.
func (e *Engine) channel(name string) *Channel {
	chs := e.channels()
	for i := range chs {
		if chs[i].Name == name {
			return &chs[i]
		}
	}
	return nil
}

// destinations returns the names of a channel's destinations.
func (e *Engine) destinations(channel string) []string {
	for _, ch := range e.channels() {
		if ch.Name == channel {
			names := make([]string, len(ch.Destinations))
			for i, d := range ch.Destinations {
				names[i] = d.Name
			}
			return names
		}
	}
	return nil
}
