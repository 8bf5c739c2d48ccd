package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/config"
	"github.com/concord-health/concord/internal/store/postgres"
	"github.com/concord-health/concord/internal/store/sqlite"
)

// exitError carries a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

// settings collects the configuration flags given on the command line.
type settings struct {
	file  string
	flags map[string]string
}

// flagValue records a configuration flag's raw text; config.Load applies
// it over the file and the environment.
type flagValue struct {
	name string
	def  string
	set  map[string]string
	bool bool
}

func (v *flagValue) String() string {
	if s, ok := v.set[v.name]; ok {
		return s
	}
	return v.def
}

func (v *flagValue) Set(s string) error { v.set[v.name] = s; return nil }

func (v *flagValue) Type() string {
	if v.bool {
		return "bool"
	}
	return "string"
}

// addConfigFlags adds a flag for every configuration key with the given
// Serve mark.
func (s *settings) addConfigFlags(fs *pflag.FlagSet, serve bool) {
	def := config.Default()
	for _, k := range config.Keys {
		if k.Serve != serve {
			continue
		}
		d := k.Get(&def)
		v := &flagValue{name: k.Name, def: d, set: s.flags, bool: d == "true" || d == "false"}
		f := fs.VarPF(v, k.Flag(), "", k.Usage+" (env "+k.Env()+")")
		if v.bool {
			f.NoOptDefVal = "true"
		}
	}
}

func (s *settings) load() (config.Config, error) {
	file := s.file
	if file == "" {
		file = os.Getenv("CONCORD_CONFIG")
	}
	return config.Load(config.Sources{File: file, Environ: os.Environ(), Flags: s.flags})
}

func newRoot() *cobra.Command {
	s := &settings{flags: map[string]string{}}
	root := &cobra.Command{
		Use:           "concord",
		Short:         "Concord joins a hospital's systems into one source of truth",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       concord.Version,
	}
	root.PersistentFlags().StringVar(&s.file, "config", "", "configuration file (default ./concord.yaml if present; env CONCORD_CONFIG)")
	s.addConfigFlags(root.PersistentFlags(), false)
	root.AddCommand(newServe(s), newToken(s), newAudit(s), newImport(s), newSend(), newHL7(), newFHIRPath(), newVersion())
	return root
}

// withStore loads the configuration, opens the store it names, runs fn and
// closes the store: the frame of every command that works on the store.
func (s *settings) withStore(fn func(ctx context.Context, cfg config.Config, store concord.Store) error) error {
	cfg, err := s.load()
	if err != nil {
		return err
	}
	ctx := context.Background()
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	return fn(ctx, cfg, store)
}

// openStore opens the store the configuration names.
func openStore(ctx context.Context, cfg config.Config) (concord.Store, error) {
	if cfg.DB != "" {
		st, err := postgres.Open(ctx, cfg.DB, postgres.Options{MaxConns: int32(cfg.DBMaxConns)})
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	if err := checkDataDir(cfg.Data); err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, cfg.SQLitePath(), sqlite.Options{Readers: cfg.DBMaxConns})
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", cfg.SQLitePath(), err)
	}
	return st, nil
}

// checkDataDir creates the data directory if needed and proves it can be
// written, so that a bad --data fails at start with a clear message.
func checkDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("data directory %s: cannot create it: %s", dir, reason(err))
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("data directory %s: not writable: %s", dir, reason(err))
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}

// reason returns the innermost text of a file system or network error.
func reason(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// newLogger returns the JSON logger for the configured level.
func newLogger(cfg config.Config) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(cfg.LogLevel))
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

// operator is who runs a command line, for audit records.
func operator(cfg config.Config) concord.AuditRecord {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return concord.AuditRecord{
		Actor:   "cli:" + name + "@" + host,
		Role:    "operator",
		Address: "local",
		Node:    cfg.NodeName(),
	}
}

func joinOr(list []string, none string) string {
	if len(list) == 0 {
		return none
	}
	return strings.Join(list, ",")
}
