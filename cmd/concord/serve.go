package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/internal/adminapi"
	"github.com/concord-health/concord/internal/bulk"
	"github.com/concord-health/concord/internal/config"
	"github.com/concord-health/concord/internal/convert"
	"github.com/concord-health/concord/internal/engine"
	"github.com/concord-health/concord/internal/fhirapi"
	"github.com/concord-health/concord/internal/fhirdest"
	"github.com/concord-health/concord/internal/server"
	"github.com/concord-health/concord/internal/subscription"
	"github.com/concord-health/concord/internal/terminology"
	"github.com/concord-health/concord/mllp"
)

func newServe(s *settings) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run every front door of this node until SIGINT or SIGTERM (SIGHUP rereads the channels)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := s.load()
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, s.load)
		},
	}
	s.addConfigFlags(cmd.Flags(), true)
	return cmd
}

// serve runs the node until ctx ends or a signal stops it. load reads the
// configuration again for a reload of the channels (SIGHUP or
// POST /api/channels/reload).
func serve(parent context.Context, cfg config.Config, load func() (config.Config, error)) error {
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
	static := map[string]string{"http": ln.Addr().String(), "mllp": "off", "dicom": "off"}
	if cfg.DICOM != "off" {
		// The DIMSE front door comes with its own issue; until then its
		// address is validated but nothing listens on it.
		static["dicom"] = "not in this build (" + cfg.DICOM + ")"
	}
	window := cfg.DuplicateWindow
	if window == 0 {
		window = -1 // engine: a negative window turns the check off
	}
	mapper := terminology.NewMapper(store, terminology.Options{})
	// FHIR writes (the API and fhir destinations) go through notify, which
	// wakes the changes sources once the engine exists.
	notify := &changeNotifier{Store: store}
	wire := wiring{store: notify, mapper: mapper, node: cfg.NodeName()}
	channels, err := engineChannels(cfg, wire)
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
	// FHIR Subscriptions: admitted in the FHIR API's writes, matched and
	// delivered from the change log.
	subs := subscription.New(subscription.Options{Store: store, Logger: log, Node: cfg.NodeName(),
		AllowPrivate: cfg.SubscriptionAllowPrivate, Timeout: cfg.SubscriptionTimeout, GiveUp: cfg.SubscriptionGiveUp,
		EventRetention: cfg.SubscriptionEventRetention})
	notify.setWake(func() { eng.ChangesWritten(); subs.ChangesWritten() })
	srv := server.New(server.Options{
		Store:           store,
		Logger:          log,
		Node:            cfg.NodeName(),
		LogPHI:          cfg.LogPHI,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Collectors:      append(eng.Collectors(), subs.Collectors()...),
	})
	// The default channel listens on --mllp; each configured channel has
	// its own sources, which a reload may change.
	var defaultLn net.Listener
	if cfg.MLLP != "off" {
		if defaultLn, err = net.Listen("tcp", cfg.MLLP); err != nil {
			ln.Close()
			return fmt.Errorf("mllp address %s (channel %s): %s", cfg.MLLP, engine.DefaultChannel, listenReason(err))
		}
		static["mllp"] = defaultLn.Addr().String()
		log.Info("mllp listening", "addr", defaultLn.Addr().String(), "channel", engine.DefaultChannel)
	}
	errc := make(chan error, 16)
	src := newSources(ctx, eng, log, errc, static)
	if err := src.apply(cfg.Channels, true); err != nil {
		ln.Close()
		if defaultLn != nil {
			defaultLn.Close()
		}
		stop()
		src.wait()
		return err
	}
	srv.Handle(engine.HTTPSourcePattern, concord.Access{Action: concord.Action{Permission: concord.PermMessagesSubmit}},
		eng.HTTPSource(src.httpChannel))
	rl := &reloader{cfg: cfg, load: load, eng: eng, src: src, store: store, log: log, wire: wire}
	srv.Handle("POST /api/channels/reload", concord.Access{Action: concord.Action{Permission: concord.PermConfigManage}},
		http.HandlerFunc(rl.serveHTTP))
	fhirapi.Register(srv, notify, fhirapi.Options{Version: concord.Version, Subscriptions: subs,
		WebsocketPath:      subscription.WebsocketPath,
		ResourceExtensions: subs.CapabilityExtensions,
		Operations:         bulk.Operations, TypeOperations: typeOperations(bulk.TypeOperations, subscription.TypeOperations),
		Instantiates: []string{bulk.CapabilityStatement}})
	exporter := bulk.New(store, bulk.Options{Expiry: cfg.ExportExpiry, Node: cfg.NodeName(), Logger: log})
	exporter.Register(srv)
	subs.Register(srv)
	adminapi.Register(srv, store, adminapi.Info{
		Version: concord.Version, Node: cfg.NodeName(), Started: started, Listeners: src.listeners,
	}, eng)
	adminapi.RegisterTerminology(srv, store, mapper)
	log.Info("concord started", "version", concord.Version, "node", cfg.NodeName(), "store", store.Kind(),
		"data", cfg.Data)
	log.Info("http listening", "addr", ln.Addr().String())
	if cfg.PProf != "" {
		servePProf(ctx, cfg.PProf, log)
	}
	log.Info("dicom listener", "state", static["dicom"])

	// After the first signal, a second one stops at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				by := concord.AuditRecord{Actor: "signal:SIGHUP@" + cfg.NodeName(), Role: "operator", Node: cfg.NodeName()}
				if summary, err := rl.reload(ctx, by); err != nil {
					log.Error("channels not reloaded", "err", err)
				} else {
					log.Info("channels reloaded", "changes", summary)
				}
			}
		}
	}()

	var doors sync.WaitGroup
	door := func(name string, run func() error) {
		doors.Add(1)
		go func() {
			defer doors.Done()
			if err := wrapErr(name, run()); err != nil {
				errc <- err
			}
		}()
	}
	door("http", func() error { return srv.Serve(ctx, ln) })
	if defaultLn != nil {
		ms := &mllp.Server{
			Handler: eng.MLLPHandler(engine.DefaultChannel),
			Admit:   eng.Admit(engine.DefaultChannel),
			Logger:  log,
			OnError: func(c *mllp.Conn, err error, skipped int64) {
				eng.ConnError(engine.DefaultChannel, c, err, skipped)
			},
		}
		door("mllp "+engine.DefaultChannel, func() error { return ms.Serve(ctx, defaultLn) })
	}
	// Deliveries run until ctx ends; an attempt in flight finishes or is
	// retried after the restart.
	dispatched := make(chan struct{})
	go func() { eng.Run(ctx); close(dispatched) }()
	// Bulk exports run one at a time on this node; a job in flight when
	// ctx ends resumes after the restart.
	exported := make(chan struct{})
	go func() { exporter.Run(ctx); close(exported) }()
	notified := make(chan struct{})
	go func() { subs.Run(ctx); close(notified) }()
	// Every front door stops when ctx ends (a signal); if one fails first,
	// the others stop too.
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
		stop()
	}
	doors.Wait()
	src.wait()
	<-dispatched
	<-exported
	<-notified
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

// wiring is what building destinations needs beside the configuration.
type wiring struct {
	store  concord.Store
	mapper *terminology.Mapper
	node   string
}

// engineChannels builds the engine's channels, with their senders, from
// the configuration.
func engineChannels(cfg config.Config, w wiring) ([]engine.Channel, error) {
	var out []engine.Channel
	if cfg.DefaultFHIR {
		// The default channel converts every message into the FHIR store
		// and answers after that: AE, with the reason, when it cannot.
		d := config.DefaultFHIRDestination()
		ed, err := engineDestination(engine.DefaultChannel, d, w)
		if err != nil {
			return nil, err
		}
		out = append(out, engine.Channel{Name: engine.DefaultChannel, RespondAfterDestinations: true,
			Destinations: []engine.Destination{ed}})
	}
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
					Table: s.Table, Default: s.Default, DeleteSegments: s.DeleteSegments, AddSegment: s.AddSegment, Split: s.Split}
			}
			tr, err := engine.CompileTransformer(steps)
			if err != nil {
				return nil, fmt.Errorf("config: channel %s (line %d) transform: %v", ch.Name, ch.Line, err)
			}
			ec.Transformer = tr
		}
		if c := ch.Changes; c != nil {
			src := &engine.ChangeSource{Types: c.Types, FromBeginning: c.From == "beginning", Poll: c.Poll, Key: fmt.Sprintf("%+v", *c)}
			if c.Filter != "" {
				f, err := engine.CompileChangeFilter(c.Filter)
				if err != nil {
					return nil, fmt.Errorf("config: channel %s (line %d): %v", ch.Name, ch.Line, err)
				}
				src.Filter = f
			}
			ec.Changes = src
		}
		for _, d := range ch.Destinations {
			ed, err := engineDestination(ch.Name, d, w)
			if err != nil {
				return nil, err
			}
			ec.Destinations = append(ec.Destinations, ed)
		}
		if ch.AppAck != nil {
			ed, err := engineDestination(ch.Name, *ch.AppAck, w)
			if err != nil {
				return nil, err
			}
			ec.AppAck = &ed
		}
		out = append(out, ec)
	}
	return out, nil
}

// engineDestination builds a destination with its sender. Its Key is its
// configuration, so a reload that leaves it unchanged leaves it running.
func engineDestination(channel string, d config.Destination, w wiring) (engine.Destination, error) {
	var s engine.Sender
	switch {
	case d.Channel != "":
		// The engine feeds the other channel itself.
	case d.FHIR != "":
		var zone *time.Location
		if d.TimeZone != "" {
			var err error
			if zone, err = time.LoadLocation(d.TimeZone); err != nil {
				return engine.Destination{}, fmt.Errorf("channel %s destination %s: time zone %s: %v", channel, d.Name, d.TimeZone, err)
			}
		}
		s = fhirdest.New(w.store, w.mapper, fhirdest.Options{Channel: channel, Zone: zone, Node: w.node})
	case d.MLLP != "":
		s = engine.NewMLLPSender(d.MLLP, d.Timeout)
	case d.HTTP != "":
		s = engine.NewHTTPSender(d.HTTP, d.Timeout)
	default:
		fs, err := engine.NewFileSender(d.File)
		if err != nil {
			return engine.Destination{}, fmt.Errorf("channel %s destination %s: directory %s: %s", channel, d.Name, d.File, reason(err))
		}
		s = fs
	}
	key := fmt.Sprintf("%+v", d)
	var out convert.OutboundOptions
	if h := d.HL7; h != nil {
		plain := d
		plain.HL7 = nil
		key = fmt.Sprintf("%+v hl7:%+v", plain, *h) // the options, not the pointer
		out = convert.OutboundOptions{Version: h.Version, OrderType: h.Type, SendingApplication: h.SendingApplication,
			SendingFacility: h.SendingFacility, ReceivingApplication: h.ReceivingApplication, ReceivingFacility: h.ReceivingFacility,
			ProcessingID: h.ProcessingID, Namespace: h.Namespace, Authorities: h.Authorities}
	}
	partner := ""
	if d.HL7 != nil {
		partner = d.HL7.Partner
	}
	if out.SendingApplication == "" {
		out.SendingApplication = "CONCORD"
	}
	return engine.Destination{
		Outbound: out, Partner: partner, Key: key, Name: d.Name, Sender: s, Channel: d.Channel, RetryInitial: d.RetryInitial,
		RetryMax: d.RetryMax, MaxAttempts: d.MaxAttempts, Timeout: d.Timeout, OnAE: d.OnAE, OnAR: d.OnAR, Parallel: d.Parallel,
	}, nil
}

// typeOperations joins the type-level operations features serve, for the
// CapabilityStatement.
func typeOperations(sets ...map[string][]fhirapi.Operation) map[string][]fhirapi.Operation {
	out := map[string][]fhirapi.Operation{}
	for _, set := range sets {
		for typ, ops := range set {
			out[typ] = append(out[typ], ops...)
		}
	}
	return out
}
