package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/internal/adminapi"
	"github.com/concord-health/concord/internal/config"
	"github.com/concord-health/concord/internal/engine"
	"github.com/concord-health/concord/internal/server"
	"github.com/concord-health/concord/mllp"
)

func newServe(s *settings) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run every front door of this node until SIGINT or SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := s.load()
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg)
		},
	}
	s.addConfigFlags(cmd.Flags(), true)
	return cmd
}

func serve(parent context.Context, cfg config.Config) error {
	if parent == nil {
		parent = context.Background()
	}
	log := newLogger(cfg)
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()

	openCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	store, err := openStore(openCtx, cfg)
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing store", "err", err)
		}
	}()

	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return fmt.Errorf("http address %s: %s", cfg.HTTP, listenReason(err))
	}
	started := time.Now()
	listeners := map[string]string{"http": ln.Addr().String(), "mllp": "off", "dicom": "off"}
	if cfg.DICOM != "off" {
		// The DIMSE front door comes with its own issue; until then its
		// address is validated but nothing listens on it.
		listeners["dicom"] = "not in this build (" + cfg.DICOM + ")"
	}
	window := cfg.DuplicateWindow
	if window == 0 {
		window = -1 // engine: a negative window turns the check off
	}
	channels, err := engineChannels(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	opts := engine.Options{Store: store, Logger: log, Node: cfg.NodeName(), DuplicateWindow: window, Channels: channels,
		Retention: cfg.MessageRetention}
	if cfg.ValidateMessages {
		opts.Validate = func(m *hl7v2.Message) []hl7v2.Issue { return hl7v2.Validate(m, hl7v2.ValidateOptions{}) }
	}
	eng := engine.New(opts)
	srv := server.New(server.Options{
		Store:           store,
		Logger:          log,
		Node:            cfg.NodeName(),
		LogPHI:          cfg.LogPHI,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Collectors:      eng.Collectors(),
	})
	// One MLLP listener per channel: the default channel on --mllp, and
	// each configured channel on its own address.
	type source struct {
		channel  string
		ln       net.Listener
		tls      *tls.Config
		allow    []netip.Prefix
		subjects []string
	}
	var sources []source
	closeAll := func() {
		ln.Close()
		for _, s := range sources {
			s.ln.Close()
		}
	}
	addSource := func(src source, addr string) error {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("mllp address %s (channel %s): %s", addr, src.channel, listenReason(err))
		}
		src.ln = l
		sources = append(sources, src)
		return nil
	}
	if cfg.MLLP != "off" {
		if err := addSource(source{channel: engine.DefaultChannel}, cfg.MLLP); err != nil {
			return err
		}
		listeners["mllp"] = sources[0].ln.Addr().String()
	}
	httpChannels := map[string]bool{}
	var drops []engine.FileDrop
	for _, ch := range cfg.Channels {
		if ch.HTTP {
			httpChannels[ch.Name] = true
			listeners["http:"+ch.Name] = "/api/channels/" + ch.Name + "/messages"
		}
		if fd := ch.FileDrop; fd != nil {
			drops = append(drops, engine.FileDrop{Channel: ch.Name, Dir: fd.Dir, Pattern: fd.Pattern, Poll: fd.Poll})
			listeners["file:"+ch.Name] = fd.Dir
		}
		if ch.MLLP == "" {
			continue
		}
		tc, err := sourceTLS(ch)
		if err != nil {
			closeAll()
			return err
		}
		if err := addSource(source{channel: ch.Name, tls: tc, allow: ch.Allow, subjects: ch.AllowSubjects}, ch.MLLP); err != nil {
			return err
		}
		listeners["mllp:"+ch.Name] = sources[len(sources)-1].ln.Addr().String()
	}
	srv.Handle(engine.HTTPSourcePattern, concord.Access{Action: concord.Action{Permission: concord.PermMessagesSubmit}},
		eng.HTTPSource(httpChannels))
	adminapi.Register(srv, store, adminapi.Info{
		Version: concord.Version, Node: cfg.NodeName(), Started: started, Listeners: listeners,
		Channels: channelNames(cfg),
	}, eng)
	log.Info("concord started", "version", concord.Version, "node", cfg.NodeName(), "store", store.Kind(),
		"data", cfg.Data)
	log.Info("http listening", "addr", ln.Addr().String())
	for _, s := range sources {
		log.Info("mllp listening", "addr", s.ln.Addr().String(), "channel", s.channel)
	}
	log.Info("dicom listener", "state", listeners["dicom"])

	// After the first signal, a second one stops at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	errc := make(chan error, len(sources)+1)
	go func() { errc <- wrapErr("http", srv.Serve(ctx, ln)) }()
	running := 1
	for _, s := range sources {
		running++
		ms := &mllp.Server{
			Handler:      eng.MLLPHandler(s.channel),
			Admit:        eng.Admit(s.channel),
			Verify:       subjectCheck(s.subjects),
			TLSConfig:    s.tls,
			AllowedPeers: s.allow,
			Logger:       log,
			OnError: func(c *mllp.Conn, err error, skipped int64) {
				eng.ConnError(s.channel, c, err, skipped)
			},
		}
		go func() { errc <- wrapErr("mllp "+s.channel, ms.Serve(ctx, s.ln)) }()
	}
	// Deliveries run until ctx ends; an attempt in flight finishes or is
	// retried after the restart.
	dispatched := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, fd := range drops {
			wg.Add(1)
			go func() { defer wg.Done(); eng.RunFileDrop(ctx, fd) }()
		}
		eng.Run(ctx)
		wg.Wait()
		close(dispatched)
	}()
	defer func() { stop(); <-dispatched }()
	// Both front doors stop when ctx ends (a signal); if one fails first,
	// stop the other too.
	var first error
	for ; running > 0; running-- {
		if err := <-errc; err != nil && first == nil {
			first = err
			stop()
		}
	}
	log.Info("concord stopping")
	return first
}

// wrapErr names the front door an error came from; a clean stop is nil.
func wrapErr(door string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return nil
	}
	return fmt.Errorf("%s: %w", door, err)
}

// listenReason turns a listen error into its cause: "address already in
// use", "permission denied", …
func listenReason(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return reason(op.Err)
	}
	return err.Error()
}

// engineChannels builds the engine's channels, with their senders, from
// the configuration.
func engineChannels(cfg config.Config) ([]engine.Channel, error) {
	var out []engine.Channel
	for _, ch := range cfg.Channels {
		ec := engine.Channel{Name: ch.Name, RespondAfterDestinations: ch.RespondAfterDestinations, RespondTimeout: ch.RespondTimeout}
		if ch.Filter != "" {
			f, err := engine.CompileFilter(ch.Filter)
			if err != nil {
				return nil, fmt.Errorf("config: channel %s (line %d): %v", ch.Name, ch.Line, err)
			}
			ec.Filter = f
		}
		if len(ch.Transform) > 0 {
			steps := make([]engine.Step, len(ch.Transform))
			for i, s := range ch.Transform {
				steps[i] = engine.Step{Set: s.Set, Value: s.Value, Copy: s.Copy, To: s.To, Clear: s.Clear, Map: s.Map,
					Table: s.Table, Default: s.Default, DeleteSegments: s.DeleteSegments, AddSegment: s.AddSegment}
			}
			tr, err := engine.CompileTransformer(steps)
			if err != nil {
				return nil, fmt.Errorf("config: channel %s (line %d) transform: %v", ch.Name, ch.Line, err)
			}
			ec.Transformer = tr
		}
		for _, d := range ch.Destinations {
			var s engine.Sender
			switch {
			case d.Channel != "":
				// The engine feeds the other channel itself.
			case d.MLLP != "":
				s = engine.NewMLLPSender(d.MLLP, d.Timeout)
			case d.HTTP != "":
				s = engine.NewHTTPSender(d.HTTP, d.Timeout)
			default:
				fs, err := engine.NewFileSender(d.File)
				if err != nil {
					return nil, fmt.Errorf("channel %s destination %s: directory %s: %s", ch.Name, d.Name, d.File, reason(err))
				}
				s = fs
			}
			ec.Destinations = append(ec.Destinations, engine.Destination{
				Name: d.Name, Sender: s, Channel: d.Channel, RetryInitial: d.RetryInitial, RetryMax: d.RetryMax,
				MaxAttempts: d.MaxAttempts, Timeout: d.Timeout, OnAE: d.OnAE, OnAR: d.OnAR,
			})
		}
		out = append(out, ec)
	}
	return out, nil
}

// channelNames lists the channels this node runs, the default one first.
func channelNames(cfg config.Config) []string {
	var names []string
	if cfg.MLLP != "off" {
		names = append(names, engine.DefaultChannel)
	}
	for _, ch := range cfg.Channels {
		names = append(names, ch.Name)
	}
	return names
}
