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
	"github.com/concord-health/concord/internal/adminapi"
	"github.com/concord-health/concord/internal/config"
	"github.com/concord-health/concord/internal/server"
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
	listeners := map[string]string{"http": ln.Addr().String()}
	// The MLLP and DIMSE front doors come with their own issues; until
	// then their addresses are validated but nothing listens on them.
	for name, addr := range map[string]string{"mllp": cfg.MLLP, "dicom": cfg.DICOM} {
		if addr == "off" {
			listeners[name] = "off"
		} else {
			listeners[name] = "not in this build (" + addr + ")"
		}
	}
	adminapi.Register(srv, store, adminapi.Info{
		Version: concord.Version, Node: cfg.NodeName(), Started: started, Listeners: listeners,
	})
	log.Info("concord started", "version", concord.Version, "node", cfg.NodeName(), "store", store.Kind(),
		"data", cfg.Data)
	log.Info("http listening", "addr", ln.Addr().String())
	for _, name := range []string{"mllp", "dicom"} {
		log.Info(name+" listener", "state", listeners[name])
	}

	// After the first signal, a second one stops at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	err = srv.Serve(ctx, ln)
	log.Info("concord stopping", "reason", "signal")
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("http: %w", err)
	}
	return nil
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
