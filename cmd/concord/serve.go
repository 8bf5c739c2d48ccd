package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
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
	srv := server.New(server.Options{
		Store:           store,
		Logger:          log,
		Node:            cfg.NodeName(),
		LogPHI:          cfg.LogPHI,
		ShutdownTimeout: cfg.ShutdownTimeout,
	})
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
	opts := engine.Options{Store: store, Logger: log, Node: cfg.NodeName(), DuplicateWindow: window}
	if cfg.ValidateMessages {
		opts.Validate = func(m *hl7v2.Message) []hl7v2.Issue { return hl7v2.Validate(m, hl7v2.ValidateOptions{}) }
	}
	eng := engine.New(opts)
	var mllpLn net.Listener
	if cfg.MLLP != "off" {
		if mllpLn, err = net.Listen("tcp", cfg.MLLP); err != nil {
			ln.Close()
			return fmt.Errorf("mllp address %s: %s", cfg.MLLP, listenReason(err))
		}
		listeners["mllp"] = mllpLn.Addr().String()
	}
	adminapi.Register(srv, store, adminapi.Info{
		Version: concord.Version, Node: cfg.NodeName(), Started: started, Listeners: listeners,
		Channels: []string{engine.DefaultChannel},
	})
	log.Info("concord started", "version", concord.Version, "node", cfg.NodeName(), "store", store.Kind(),
		"data", cfg.Data)
	log.Info("http listening", "addr", ln.Addr().String())
	if mllpLn != nil {
		log.Info("mllp listening", "addr", mllpLn.Addr().String(), "channel", engine.DefaultChannel)
	}
	log.Info("dicom listener", "state", listeners["dicom"])

	// After the first signal, a second one stops at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	errc := make(chan error, 2)
	go func() { errc <- wrapErr("http", srv.Serve(ctx, ln)) }()
	running := 1
	if mllpLn != nil {
		running++
		ms := &mllp.Server{
			Handler: eng.MLLPHandler(engine.DefaultChannel),
			Logger:  log,
			OnError: func(c *mllp.Conn, err error, skipped int64) {
				eng.ConnError(engine.DefaultChannel, c, err, skipped)
			},
		}
		go func() { errc <- wrapErr("mllp", ms.Serve(ctx, mllpLn)) }()
	}
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
