package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"sort"
	"sync"

	"github.com/concord-health/concord/internal/config"
	"github.com/concord-health/concord/internal/engine"
	"github.com/concord-health/concord/mllp"
)

// sources runs the channel sources of a node — an MLLP listener for each
// channel that has one, a loop for each file-drop directory, and the set
// of channels the HTTP source takes — and changes them to match when the
// channels are configured again.
type sources struct {
	ctx  context.Context // serve's: ends them all
	eng  *engine.Engine
	log  *slog.Logger
	errc chan<- error // a listener that fails on its own stops serve

	mu      sync.Mutex
	mllp    map[string]*running // by channel
	drops   map[string]*running // by channel
	http    map[string]bool     // channels with http: true
	static  map[string]string   // listeners that do not change (http, default mllp, dicom)
	running sync.WaitGroup
}

// running is one source goroutine and what it was started from.
type running struct {
	key    string // its configuration; the same key is left running
	addr   string // what it listens on or reads
	cancel context.CancelFunc
	done   chan struct{}
}

func newSources(ctx context.Context, eng *engine.Engine, log *slog.Logger, errc chan<- error, static map[string]string) *sources {
	return &sources{ctx: ctx, eng: eng, log: log, errc: errc, static: static,
		mllp: map[string]*running{}, drops: map[string]*running{}, http: map[string]bool{}}
}

// apply makes the running sources match chs: sources of removed channels
// stop, changed ones restart, new ones start, unchanged ones go on
// undisturbed. At the first start (strict) any failure stops everything
// and is returned; on a later change a source that cannot start is
// reported in the returned error and the others are still applied.
func (s *sources) apply(chs []config.Channel, strict bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	wantMLLP := map[string]config.Channel{}
	wantDrop := map[string]config.Channel{}
	http := map[string]bool{}
	for _, ch := range chs {
		if ch.MLLP != "" {
			wantMLLP[ch.Name] = ch
		}
		if ch.FileDrop != nil {
			wantDrop[ch.Name] = ch
		}
		if ch.HTTP {
			http[ch.Name] = true
		}
	}
	s.http = http

	var problems []error
	keys := map[string]string{}
	for name, ch := range wantMLLP {
		k, err := mllpKey(ch)
		if err != nil {
			problems = append(problems, err)
			if strict {
				return err
			}
			continue
		}
		keys[name] = k
	}
	// Stop what is removed or changed first: a changed listener may keep
	// its address.
	for name, r := range s.mllp {
		if k, ok := keys[name]; !ok || k != r.key {
			r.stop()
			delete(s.mllp, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(keys)) {
		if _, ok := s.mllp[name]; ok {
			continue
		}
		r, err := s.startMLLP(wantMLLP[name], keys[name])
		if err != nil {
			problems = append(problems, err)
			if strict {
				return err
			}
			continue
		}
		s.mllp[name] = r
	}
	for name, r := range s.drops {
		ch, ok := wantDrop[name]
		if !ok || dropKey(ch) != r.key {
			r.stop()
			delete(s.drops, name)
		}
	}
	for name, ch := range wantDrop {
		if _, ok := s.drops[name]; ok {
			continue
		}
		s.drops[name] = s.startDrop(ch)
	}
	return errors.Join(problems...)
}

// startMLLP opens a channel's MLLP listener and serves it.
func (s *sources) startMLLP(ch config.Channel, key string) (*running, error) {
	tc, err := sourceTLS(ch)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", ch.MLLP)
	if err != nil {
		return nil, fmt.Errorf("mllp address %s (channel %s): %s", ch.MLLP, ch.Name, listenReason(err))
	}
	ctx, cancel := context.WithCancel(s.ctx)
	r := &running{key: key, addr: ln.Addr().String(), cancel: cancel, done: make(chan struct{})}
	srv := &mllp.Server{
		Handler:      s.eng.MLLPHandler(ch.Name),
		Admit:        s.eng.Admit(ch.Name),
		Verify:       engine.VerifySubjects(ch.AllowSubjects),
		TLSConfig:    tc,
		AllowedPeers: ch.Allow,
		Logger:       s.log,
		OnError: func(c *mllp.Conn, err error, skipped int64) {
			s.eng.ConnError(ch.Name, c, err, skipped)
		},
	}
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		defer close(r.done)
		err := srv.Serve(ctx, ln)
		if ctx.Err() == nil && err != nil {
			s.errc <- wrapErr("mllp "+ch.Name, err)
		}
	}()
	s.log.Info("mllp listening", "addr", r.addr, "channel", ch.Name, "tls", tc != nil)
	return r, nil
}

// startDrop starts a channel's file-drop loop.
func (s *sources) startDrop(ch config.Channel) *running {
	ctx, cancel := context.WithCancel(s.ctx)
	fd := ch.FileDrop
	r := &running{key: dropKey(ch), addr: fd.Dir, cancel: cancel, done: make(chan struct{})}
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		defer close(r.done)
		s.eng.RunFileDrop(ctx, engine.FileDrop{Channel: ch.Name, Dir: fd.Dir, Pattern: fd.Pattern, Poll: fd.Poll})
	}()
	s.log.Info("file drop watching", "dir", fd.Dir, "channel", ch.Name)
	return r
}

// stop ends a source and waits for it: an MLLP listener closes and
// finishes the messages in flight.
func (r *running) stop() {
	r.cancel()
	<-r.done
}

// wait waits for every source to end (after serve's context ended).
func (s *sources) wait() { s.running.Wait() }

// httpChannels reports whether a channel takes messages over HTTP now.
func (s *sources) httpChannel(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.http[name]
}

// listeners describes every source now, for /api/status.
func (s *sources) listeners() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := maps.Clone(s.static)
	for name, r := range s.mllp {
		out["mllp:"+name] = r.addr
	}
	for name, r := range s.drops {
		out["file:"+name] = r.addr
	}
	names := slices.Collect(maps.Keys(s.http))
	sort.Strings(names)
	for _, name := range names {
		out["http:"+name] = "/api/channels/" + name + "/messages"
	}
	return out
}

// mllpKey identifies an MLLP source's configuration, including the
// contents of its certificate files, so that a reload after a
// certificate was renewed in place restarts the listener with it.
func mllpKey(ch config.Channel) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%q %v %q\n", ch.MLLP, ch.Allow, ch.AllowSubjects)
	if t := ch.TLS; t != nil {
		for _, f := range []string{t.Cert, t.Key, t.ClientCA} {
			if f == "" {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				return "", fmt.Errorf("config %s:%d: channel %s tls: %s: %s", ch.File, ch.Line, ch.Name, f, reason(err))
			}
			fmt.Fprintf(h, "%q %x\n", f, sha256.Sum256(b))
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// dropKey identifies a file-drop source's configuration.
func dropKey(ch config.Channel) string {
	return fmt.Sprintf("%+v", *ch.FileDrop)
}

// sourceTLS builds the TLS configuration of a channel's MLLP source: its
// certificate, and with a client CA, client certificates required and
// verified against it.
func sourceTLS(ch config.Channel) (*tls.Config, error) {
	if ch.TLS == nil {
		return nil, nil
	}
	where := fmt.Sprintf("config %s:%d: channel %s tls", ch.File, ch.Line, ch.Name)
	cert, err := tls.LoadX509KeyPair(ch.TLS.Cert, ch.TLS.Key)
	if err != nil {
		return nil, fmt.Errorf("%s: certificate %s and key %s: %s", where, ch.TLS.Cert, ch.TLS.Key, reason(err))
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if ch.TLS.ClientCA != "" {
		pem, err := os.ReadFile(ch.TLS.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("%s: client_ca %s: %s", where, ch.TLS.ClientCA, reason(err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: client_ca %s: no PEM certificates", where, ch.TLS.ClientCA)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
