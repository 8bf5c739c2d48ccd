// Package config is Concord's configuration: one plain struct with
// documented defaults, filled in order from the defaults, concord.yaml, the
// CONCORD_* environment variables and the command-line flags, each later
// source overriding the earlier ones. Every key has all three forms: key
// http_addr is flag --http-addr and variable CONCORD_HTTP_ADDR.
package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration of a Concord node.
type Config struct {
	// Data is the directory for the embedded database and other files.
	Data string
	// DB is a PostgreSQL URL; empty means SQLite at <Data>/concord.db.
	DB string
	// HTTP is the address of the HTTP front door (FHIR, admin API, …).
	HTTP string
	// MLLP is the address of the HL7 v2 MLLP listener; "off" disables it.
	MLLP string
	// DICOM is the address of the DICOM DIMSE listener; "off" disables it.
	DICOM string
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// LogPHI lets request paths and queries, which may hold patient data,
	// into the logs. For debugging on test systems only.
	LogPHI bool
	// ShutdownTimeout bounds the wait for in-flight work on shutdown.
	ShutdownTimeout time.Duration
	// DBMaxConns is the size of the database connection pool (PostgreSQL)
	// or of the read pool (SQLite).
	DBMaxConns int
	// Node names this Concord node in audit records and logs; the host
	// name when empty.
	Node string
	// DuplicateWindow is how long a repeated message control ID from the
	// same sender is answered without processing it again (0: never).
	DuplicateWindow time.Duration
	// ValidateMessages checks received HL7 v2 messages against the
	// standard (structure, data types, tables) and answers violations AE
	// or AR.
	ValidateMessages bool
	// MessageRetention is how long the content of interface messages is
	// kept; older content is dropped and the metadata kept. 0 keeps it
	// forever.
	MessageRetention time.Duration
	// ExportExpiry is how long a finished bulk data export ($export) and
	// its files are kept before they are deleted.
	ExportExpiry time.Duration
	// DefaultFHIR gives the default channel a fhir destination (convert
	// into the FHIR store) and makes it answer after it; when false it
	// only stores and acknowledges.
	DefaultFHIR bool
	// PProf is a loopback address where Go's profiler (net/http/pprof)
	// listens, for measuring the server; empty: off.
	PProf string
	// SubscriptionAllowPrivate lets FHIR Subscription endpoints be on
	// loopback, private and link-local addresses (a hospital LAN).
	SubscriptionAllowPrivate bool
	// SubscriptionTimeout bounds each notification request.
	SubscriptionTimeout time.Duration
	// SubscriptionGiveUp is how long a Subscription's endpoint may keep
	// failing before the Subscription is set to error.
	SubscriptionGiveUp time.Duration
	// SubscriptionEventRetention is how long delivered Subscription
	// events stay listed by $events (0: forever).
	SubscriptionEventRetention time.Duration
	// Channels are the interface channels beside the default one, from
	// the configuration file.
	Channels []Channel
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Data:             "./concord-data",
		HTTP:             ":8080",
		MLLP:             ":2575",
		DICOM:            ":11112",
		LogLevel:         "info",
		ShutdownTimeout:  30 * time.Second,
		DBMaxConns:       10,
		DuplicateWindow:  24 * time.Hour,
		ValidateMessages: true,
		DefaultFHIR:      true,
		ExportExpiry:     24 * time.Hour,

		SubscriptionAllowPrivate: true,
		SubscriptionTimeout:      10 * time.Second,
		SubscriptionGiveUp:       24 * time.Hour,

		SubscriptionEventRetention: 30 * 24 * time.Hour,
	}
}

// Key is one configuration setting and the ways to set it.
type Key struct {
	Name  string // in concord.yaml
	Usage string
	// Serve marks keys only "concord serve" uses; other commands take
	// only the rest as flags.
	Serve bool
	get   func(*Config) string
	set   func(*Config, string) error
}

// Flag returns the key's command-line flag name.
func (k Key) Flag() string { return strings.ReplaceAll(k.Name, "_", "-") }

// Env returns the key's environment variable.
func (k Key) Env() string { return "CONCORD_" + strings.ToUpper(k.Name) }

// Get returns the key's value in c as text.
func (k Key) Get(c *Config) string { return k.get(c) }

// Set parses s into c.
func (k Key) Set(c *Config, s string) error { return k.set(c, s) }

func str(name, usage string, f func(*Config) *string, check func(string) error) Key {
	return Key{Name: name, Usage: usage,
		get: func(c *Config) string { return *f(c) },
		set: func(c *Config, s string) error {
			if check != nil {
				if err := check(s); err != nil {
					return err
				}
			}
			*f(c) = s
			return nil
		}}
}

// parseDays reads a duration that may also be given in whole days (90d);
// it must not be negative.
func parseDays(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n >= 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("want a duration such as 90d or 720h (0: forever), got %q", s)
	}
	return d, nil
}

// formatDays writes whole days as "Nd", other durations as Go does.
func formatDays(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return d.String()
}

// boolKey is a true/false setting that only serve uses.
func boolKey(name, usage string, f func(*Config) *bool) Key {
	return Key{Name: name, Usage: usage, Serve: true,
		get: func(c *Config) string { return strconv.FormatBool(*f(c)) },
		set: func(c *Config, s string) error {
			v, err := strconv.ParseBool(s)
			if err != nil {
				return fmt.Errorf("want true or false, got %q", s)
			}
			*f(c) = v
			return nil
		}}
}

func serveKey(k Key) Key {
	k.Serve = true
	return k
}

// Keys lists every setting, in the order the reference documents them.
var Keys = []Key{
	str("data", "directory for the embedded database and files", func(c *Config) *string { return &c.Data }, nonEmpty),
	str("db", "PostgreSQL URL (postgres://…); empty: SQLite at <data>/concord.db", func(c *Config) *string { return &c.DB }, checkDB),
	serveKey(str("http", "HTTP listen address (FHIR, DICOMweb, admin API, dashboard)", func(c *Config) *string { return &c.HTTP }, checkAddr)),
	serveKey(str("mllp", `HL7 v2 MLLP listen address, or "off"`, func(c *Config) *string { return &c.MLLP }, checkAddrOrOff)),
	serveKey(str("dicom", `DICOM DIMSE listen address, or "off"`, func(c *Config) *string { return &c.DICOM }, checkAddrOrOff)),
	serveKey(boolKey("default_fhir", "the default channel converts each message into the FHIR store and answers after that (AE with the reason when it cannot); false: it only stores and acknowledges",
		func(c *Config) *bool { return &c.DefaultFHIR })),
	serveKey(str("pprof", "loopback address for Go's profiler (net/http/pprof), e.g. 127.0.0.1:6060; empty: off",
		func(c *Config) *string { return &c.PProf }, checkLoopback)),
	str("log_level", "log level: debug, info, warn or error", func(c *Config) *string { return &c.LogLevel }, checkLevel),
	boolKey("log_phi", "log request paths and queries, which may hold patient data (test systems only)",
		func(c *Config) *bool { return &c.LogPHI }),
	{Name: "shutdown_timeout", Serve: true, Usage: "how long shutdown waits for in-flight work",
		get: func(c *Config) string { return c.ShutdownTimeout.String() },
		set: func(c *Config, s string) error {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				return fmt.Errorf("want a positive duration such as 30s, got %q", s)
			}
			c.ShutdownTimeout = d
			return nil
		}},
	{Name: "db_max_conns", Usage: "database pool size (PostgreSQL) or read pool size (SQLite)",
		get: func(c *Config) string { return strconv.Itoa(c.DBMaxConns) },
		set: func(c *Config, s string) error {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 1000 {
				return fmt.Errorf("want a whole number from 1 to 1000, got %q", s)
			}
			c.DBMaxConns = n
			return nil
		}},
	str("node", "name of this node in audit records and logs (default: host name)", func(c *Config) *string { return &c.Node }, nil),
	boolKey("validate", "check received HL7 v2 messages against the standard and answer violations AE or AR with ERR",
		func(c *Config) *bool { return &c.ValidateMessages }),
	{Name: "message_retention", Serve: true, Usage: "how long message content is kept, e.g. 90d (metadata stays; 0 keeps it forever)",
		get: func(c *Config) string { return formatDays(c.MessageRetention) },
		set: func(c *Config, s string) error {
			d, err := parseDays(s)
			if err != nil {
				return err
			}
			c.MessageRetention = d
			return nil
		}},
	{Name: "export_expiry", Serve: true, Usage: "how long a finished bulk data export ($export) and its files are kept, e.g. 24h or 7d",
		get: func(c *Config) string { return formatDays(c.ExportExpiry) },
		set: func(c *Config, s string) error {
			d, err := parseDays(s)
			if err != nil || d < time.Minute {
				return fmt.Errorf("want a duration of at least 1m, such as 24h or 7d, got %q", s)
			}
			c.ExportExpiry = d
			return nil
		}},
	boolKey("subscription_allow_private", "FHIR Subscription endpoints may be on loopback, private and link-local addresses (false: public addresses only, checked when dialling)",
		func(c *Config) *bool { return &c.SubscriptionAllowPrivate }),
	{Name: "subscription_timeout", Serve: true, Usage: "how long one FHIR Subscription notification may take (connect, send, answer)",
		get: func(c *Config) string { return c.SubscriptionTimeout.String() },
		set: func(c *Config, s string) error {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 || d > 10*time.Minute {
				return fmt.Errorf("want a duration from 1ms to 10m such as 10s, got %q", s)
			}
			c.SubscriptionTimeout = d
			return nil
		}},
	{Name: "subscription_give_up", Serve: true, Usage: "how long a FHIR Subscription's endpoint may keep failing (retries back off from 1m to 1h) before the Subscription is set to error, e.g. 24h or 3d",
		get: func(c *Config) string { return formatDays(c.SubscriptionGiveUp) },
		set: func(c *Config, s string) error {
			d, err := parseDays(s)
			if err != nil || d <= 0 {
				return fmt.Errorf("want a positive duration such as 24h or 3d, got %q", s)
			}
			c.SubscriptionGiveUp = d
			return nil
		}},
	{Name: "subscription_event_retention", Serve: true, Usage: "how long delivered FHIR Subscription events stay listed by $events, e.g. 30d (0: forever; events still to deliver are always kept)",
		get: func(c *Config) string { return formatDays(c.SubscriptionEventRetention) },
		set: func(c *Config, s string) error {
			d, err := parseDays(s)
			if err != nil {
				return err
			}
			c.SubscriptionEventRetention = d
			return nil
		}},
	{Name: "duplicate_window", Serve: true, Usage: "how long a repeated control ID from the same sender is answered without processing again (0: never)",
		get: func(c *Config) string { return c.DuplicateWindow.String() },
		set: func(c *Config, s string) error {
			d, err := time.ParseDuration(s)
			if err != nil || d < 0 {
				return fmt.Errorf("want a duration such as 24h (0 turns the check off), got %q", s)
			}
			c.DuplicateWindow = d
			return nil
		}},
}

// KeyByName returns the key with the given name.
func KeyByName(name string) (Key, bool) {
	for _, k := range Keys {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

func nonEmpty(s string) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("must not be empty")
	}
	return nil
}

func checkDB(s string) error {
	if s == "" || strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		return nil
	}
	return fmt.Errorf("want a postgres:// URL or nothing")
}

func checkAddr(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("want host:port or :port, got %q", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port must be 0 to 65535, got %q", port)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("bad host in %q", s)
	}
	return nil
}

// checkLoopback accepts "" (off) or a host:port whose host is a loopback
// address: the profiler shows the server's internals and has no login.
func checkLoopback(s string) error {
	if s == "" {
		return nil
	}
	if err := checkAddr(s); err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(s)
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("want a loopback address such as 127.0.0.1:6060, got %q", s)
	}
	return nil
}

func checkAddrOrOff(s string) error {
	if s == "off" {
		return nil
	}
	return checkAddr(s)
}

func checkLevel(s string) error {
	switch s {
	case "debug", "info", "warn", "error":
		return nil
	}
	return fmt.Errorf("want debug, info, warn or error, got %q", s)
}

// Validate checks the configuration as a whole.
func (c *Config) Validate() error {
	for _, k := range Keys {
		if err := k.Set(c, k.Get(c)); err != nil {
			return fmt.Errorf("%s: %w", k.Name, err)
		}
	}
	return nil
}

// SQLitePath returns where the embedded database lives.
func (c *Config) SQLitePath() string { return filepath.Join(c.Data, "concord.db") }

// NodeName returns Node, or the host name when Node is empty.
func (c *Config) NodeName() string {
	if c.Node != "" {
		return c.Node
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "concord"
}
