package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Channel is one interface channel from concord.yaml: where messages come
// from and where they go. Channels are configured in the file only (they
// have no flags or environment variables).
type Channel struct {
	Name string
	// Sources: a channel has at least one of these, unless another
	// channel's destination feeds it.
	//
	// MLLP is the listen address of the channel's MLLP source.
	MLLP string
	// TLS, when set, makes the MLLP source speak TLS.
	TLS *TLS
	// Allow, when not empty, lists the only addresses (single IPs or
	// CIDR prefixes) that may connect to the MLLP source.
	Allow []netip.Prefix
	// AllowSubjects, when not empty, lists the only TLS client
	// certificate subject common names the MLLP source accepts.
	AllowSubjects []string
	// HTTP accepts messages POSTed to /api/channels/{name}/messages by
	// callers whose token may submit messages.
	HTTP bool
	// FileDrop, when set, takes messages from files dropped in a directory.
	FileDrop *FileDrop
	// Changes, when set, makes the channel follow the clinical store's
	// change log instead of receiving messages: it writes HL7 v2 messages
	// for the resources' changes (see Changes and Destination.HL7). Such a
	// channel has no other source.
	Changes *Changes
	// RespondAfterDestinations holds the sender's answer until every
	// destination took the message or gave it up, at most RespondTimeout
	// (respond: destinations); by default the answer follows the commit
	// (respond: commit).
	RespondAfterDestinations bool
	RespondTimeout           time.Duration
	// AppAck, when set, is where the channel sends application
	// acknowledgments (HL7 v2 enhanced mode, MSH-16) back to senders: a
	// destination with its own queue, named AppAckDestination.
	AppAck *Destination
	// Filter is a CEL expression deciding which messages the channel
	// passes to its destinations (see engine.Filter); empty passes all.
	Filter string
	// Transform is the channel's transformer steps (see engine.Step).
	Transform    []Step
	Destinations []Destination
	File         string // the file the channel is defined in, for messages
	Line         int    // where in File
}

// MaxRespondTimeout is the longest a channel may hold an answer for its
// destinations.
const MaxRespondTimeout = 100 * time.Second

// TLS is a source's TLS setting: its certificate and key, and, when
// ClientCA is given, the CAs whose client certificates it requires.
type TLS struct {
	Cert, Key, ClientCA string
}

// FileDrop is a directory a channel takes messages from: each file whose
// name matches Pattern (one message, several, or a batch) is read, its
// messages received, and the file then moved to Dir/processed (or
// Dir/error when a message in it was refused or could not be stored).
type FileDrop struct {
	Dir     string
	Pattern string
	Poll    time.Duration
}

// Step is one transformer step from concord.yaml: exactly one of set
// (with value), copy (with to), clear, map (with table and optionally
// default), delete_segments, add_segment and split.
type Step struct {
	Set, Value, Copy, To, Clear, Map string
	Table                            map[string]string
	Default                          *string
	DeleteSegments, AddSegment       string
	Split                            string
}

// Destination is where a channel delivers each message it accepts, with
// its own durable FIFO queue and retry policy.
type Destination struct {
	Name string
	// Exactly one of these says how to deliver.
	MLLP    string // host:port of an MLLP receiver
	HTTP    string // URL to POST the message to
	File    string // directory to write each message to, one file each
	Channel string // another channel, which receives the message
	// FHIR "store" converts the message into FHIR resources in Concord's
	// own store (HL7 v2 → FHIR, issue 6). Its answer is AE when the
	// message cannot be converted or stored, and on_ae defaults to dead
	// for it: trying again would not change the answer.
	FHIR string
	// TimeZone is the IANA zone of HL7 date/times without a UTC offset,
	// for fhir destinations; the server's local zone when empty.
	TimeZone string

	// Retry policy: the first retry waits RetryInitial, each next one
	// twice as long, at most RetryMax; MaxAttempts 0 means forever.
	RetryInitial time.Duration
	RetryMax     time.Duration
	MaxAttempts  int
	// Timeout bounds one attempt (connect, send, acknowledgment).
	Timeout time.Duration
	// Parallel is how many messages a fhir destination converts and
	// stores at once; order is kept per patient (PID-3), and messages
	// without a patient or about two (merges) go alone. 1 keeps the whole
	// queue in order. Other destinations deliver one at a time.
	Parallel int
	// OnAE and OnAR say what a partner's AE or AR answer does: "retry"
	// or "dead" (stop and wait for an operator).
	OnAE, OnAR string
	// HL7, in a channel with a changes source, says how the messages for
	// this destination are written; nil takes the defaults.
	HL7 *HL7
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// loadChannels reads the channels list of concord.yaml.
func loadChannels(path string, n *yaml.Node) ([]Channel, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("config %s:%d: channels must be a list", path, n.Line)
	}
	var out []Channel
	seen := map[string]bool{"default": true}
	for _, item := range n.Content {
		ch := Channel{File: path, Line: item.Line}
		err := eachKey(path, item, map[string]func(*yaml.Node) error{
			"name":   func(v *yaml.Node) error { return scalar(v, &ch.Name) },
			"filter": func(v *yaml.Node) error { return scalar(v, &ch.Filter) },
			"transform": func(v *yaml.Node) error {
				if v.Kind != yaml.SequenceNode {
					return fmt.Errorf("must be a list of steps")
				}
				for _, sn := range v.Content {
					var s Step
					err := eachKey(path, sn, map[string]func(*yaml.Node) error{
						"set":             func(v *yaml.Node) error { return scalar(v, &s.Set) },
						"value":           func(v *yaml.Node) error { return scalar(v, &s.Value) },
						"copy":            func(v *yaml.Node) error { return scalar(v, &s.Copy) },
						"to":              func(v *yaml.Node) error { return scalar(v, &s.To) },
						"clear":           func(v *yaml.Node) error { return scalar(v, &s.Clear) },
						"map":             func(v *yaml.Node) error { return scalar(v, &s.Map) },
						"delete_segments": func(v *yaml.Node) error { return scalar(v, &s.DeleteSegments) },
						"add_segment":     func(v *yaml.Node) error { return scalar(v, &s.AddSegment) },
						"split":           func(v *yaml.Node) error { return scalar(v, &s.Split) },
						"default": func(v *yaml.Node) error {
							var d string
							if err := scalar(v, &d); err != nil {
								return err
							}
							s.Default = &d
							return nil
						},
						"table": func(v *yaml.Node) error {
							if v.Kind != yaml.MappingNode {
								return fmt.Errorf("must be a mapping of values")
							}
							s.Table = map[string]string{}
							for i := 0; i+1 < len(v.Content); i += 2 {
								if v.Content[i+1].Kind != yaml.ScalarNode {
									return fmt.Errorf("value of %q wants a single value", v.Content[i].Value)
								}
								s.Table[v.Content[i].Value] = v.Content[i+1].Value
							}
							return nil
						},
					})
					if err != nil {
						return err
					}
					ch.Transform = append(ch.Transform, s)
				}
				return nil
			},
			"mllp": func(v *yaml.Node) error {
				if err := scalar(v, &ch.MLLP); err != nil {
					return err
				}
				return checkAddr(ch.MLLP)
			},
			"tls": func(v *yaml.Node) error {
				ch.TLS = &TLS{}
				err := eachKey(path, v, map[string]func(*yaml.Node) error{
					"cert":      func(v *yaml.Node) error { return scalar(v, &ch.TLS.Cert) },
					"key":       func(v *yaml.Node) error { return scalar(v, &ch.TLS.Key) },
					"client_ca": func(v *yaml.Node) error { return scalar(v, &ch.TLS.ClientCA) },
				})
				if err == nil && (ch.TLS.Cert == "" || ch.TLS.Key == "") {
					err = fmt.Errorf("needs cert and key (PEM files)")
				}
				return err
			},
			"allow": func(v *yaml.Node) error {
				return list(v, func(s string) error {
					p, err := parsePrefix(s)
					ch.Allow = append(ch.Allow, p)
					return err
				})
			},
			"allow_subjects": func(v *yaml.Node) error {
				return list(v, func(s string) error {
					ch.AllowSubjects = append(ch.AllowSubjects, s)
					return nil
				})
			},
			"http": func(v *yaml.Node) error { return boolean(v, &ch.HTTP) },
			"changes": func(v *yaml.Node) error {
				var err error
				ch.Changes, err = loadChanges(path, v)
				return err
			},
			"file_drop": func(v *yaml.Node) error {
				fd := &FileDrop{Pattern: "*", Poll: 2 * time.Second}
				err := eachKey(path, v, map[string]func(*yaml.Node) error{
					"dir": func(v *yaml.Node) error { return scalar(v, &fd.Dir) },
					"pattern": func(v *yaml.Node) error {
						if err := scalar(v, &fd.Pattern); err != nil {
							return err
						}
						if _, err := filepath.Match(fd.Pattern, ""); err != nil || strings.Contains(fd.Pattern, "/") {
							return fmt.Errorf("want a file name pattern such as *.hl7, got %q", fd.Pattern)
						}
						return nil
					},
					"poll": duration(&fd.Poll),
				})
				if err == nil && fd.Dir == "" {
					err = fmt.Errorf("needs dir")
				}
				ch.FileDrop = fd
				return err
			},
			"respond": func(v *yaml.Node) error {
				var s string
				if err := scalar(v, &s); err != nil {
					return err
				}
				switch s {
				case "commit":
				case "destinations":
					ch.RespondAfterDestinations = true
				default:
					return fmt.Errorf("want commit or destinations, got %q", s)
				}
				return nil
			},
			"respond_timeout": func(v *yaml.Node) error {
				if err := duration(&ch.RespondTimeout)(v); err != nil {
					return err
				}
				if ch.RespondTimeout > MaxRespondTimeout {
					return fmt.Errorf("at most %s (an HTTP answer must come within the server's write timeout)", MaxRespondTimeout)
				}
				return nil
			},
			"application_ack": func(v *yaml.Node) error {
				d, err := loadDestination(path, v, AppAckDestination)
				ch.AppAck = &d
				return err
			},
			"destinations": func(v *yaml.Node) error {
				if v.Kind != yaml.SequenceNode {
					return fmt.Errorf("must be a list")
				}
				for _, dn := range v.Content {
					d, err := loadDestination(path, dn, "")
					if err != nil {
						return err
					}
					ch.Destinations = append(ch.Destinations, d)
				}
				return nil
			},
		})
		if err != nil {
			return nil, err
		}
		if !nameRE.MatchString(ch.Name) {
			return nil, fmt.Errorf("config %s:%d: channel name %q: want 1-63 of a-z 0-9 _ - (starting with a letter or digit)", path, item.Line, ch.Name)
		}
		if seen[ch.Name] {
			return nil, fmt.Errorf("config %s:%d: channel %q defined twice (or named default, which is the --mllp channel)", path, item.Line, ch.Name)
		}
		seen[ch.Name] = true
		if ch.MLLP == "" && (ch.TLS != nil || len(ch.Allow) > 0 || len(ch.AllowSubjects) > 0) {
			return nil, fmt.Errorf("config %s:%d: channel %q: tls, allow and allow_subjects apply to an mllp source, and it has none", path, item.Line, ch.Name)
		}
		if len(ch.AllowSubjects) > 0 && (ch.TLS == nil || ch.TLS.ClientCA == "") {
			return nil, fmt.Errorf("config %s:%d: channel %q: allow_subjects needs tls with client_ca (client certificates)", path, item.Line, ch.Name)
		}
		if ch.Changes != nil && (ch.MLLP != "" || ch.HTTP || ch.FileDrop != nil || ch.AppAck != nil) {
			return nil, fmt.Errorf("config %s:%d: channel %q: a changes source is the channel's only source (no mllp, http, file_drop or application_ack)", path, item.Line, ch.Name)
		}
		if ch.Changes != nil && len(ch.Destinations) == 0 {
			return nil, fmt.Errorf("config %s:%d: channel %q: a changes source needs destinations to send its messages to", path, item.Line, ch.Name)
		}
		dests := map[string]bool{}
		for _, d := range ch.Destinations {
			if d.FHIR != "" && ch.Changes != nil {
				return nil, fmt.Errorf("config %s:%d: channel %q destination %q: a changes channel writes HL7 v2 from the FHIR store, so a fhir destination would write it back (a loop)", path, item.Line, ch.Name, d.Name)
			}
			if d.HL7 != nil && ch.Changes == nil {
				return nil, fmt.Errorf("config %s:%d: channel %q destination %q: hl7 applies to a channel with a changes source", path, item.Line, ch.Name, d.Name)
			}
			if dests[d.Name] {
				return nil, fmt.Errorf("config %s:%d: channel %q has two destinations named %q", path, item.Line, ch.Name, d.Name)
			}
			dests[d.Name] = true
		}
		out = append(out, ch)
	}
	return out, nil
}

// DefaultFHIRDestination is the destination the default channel gets
// when default_fhir is on: named "fhir", converting into the store, with
// the usual retry policy (a store that is unavailable is tried again) and
// AE (a message that cannot be converted) dead.
func DefaultFHIRDestination() Destination {
	return Destination{Name: "fhir", FHIR: "store", RetryInitial: time.Second, RetryMax: 5 * time.Minute,
		Timeout: 30 * time.Second, OnAE: "dead", OnAR: "dead", Parallel: DefaultFHIRParallel}
}

// DefaultFHIRParallel is how many messages a fhir destination converts
// and stores at once unless its parallel key says otherwise.
const DefaultFHIRParallel = 8

// AppAckDestination is the name of the destination that carries a
// channel's application acknowledgments; no other destination may use it.
const AppAckDestination = "application-ack"

// loadDestination reads a destination; a fixed name (for the application
// acknowledgment destination) takes the place of the name key.
func loadDestination(path string, n *yaml.Node, fixedName string) (Destination, error) {
	d := Destination{Name: fixedName, RetryInitial: time.Second, RetryMax: 5 * time.Minute, Timeout: 30 * time.Second, OnAE: "retry", OnAR: "dead"}
	dur := duration
	aeSet := false
	policy := func(dst *string) func(*yaml.Node) error {
		return func(v *yaml.Node) error {
			if err := scalar(v, dst); err != nil {
				return err
			}
			if *dst != "retry" && *dst != "dead" {
				return fmt.Errorf("want retry or dead, got %q", *dst)
			}
			return nil
		}
	}
	handlers := map[string]func(*yaml.Node) error{
		"name": func(v *yaml.Node) error { return scalar(v, &d.Name) },
		"mllp": func(v *yaml.Node) error {
			if err := scalar(v, &d.MLLP); err != nil {
				return err
			}
			if _, _, err := net.SplitHostPort(d.MLLP); err != nil {
				return fmt.Errorf("want host:port, got %q", d.MLLP)
			}
			return nil
		},
		"http": func(v *yaml.Node) error {
			if err := scalar(v, &d.HTTP); err != nil {
				return err
			}
			if !strings.HasPrefix(d.HTTP, "http://") && !strings.HasPrefix(d.HTTP, "https://") {
				return fmt.Errorf("want an http:// or https:// URL, got %q", d.HTTP)
			}
			return nil
		},
		"file":          func(v *yaml.Node) error { return scalar(v, &d.File) },
		"channel":       func(v *yaml.Node) error { return scalar(v, &d.Channel) },
		"retry_initial": dur(&d.RetryInitial),
		"retry_max":     dur(&d.RetryMax),
		"timeout":       dur(&d.Timeout),
		"max_attempts": func(v *yaml.Node) error {
			var s string
			if err := scalar(v, &s); err != nil {
				return err
			}
			x, err := strconv.Atoi(s)
			if err != nil || x < 0 {
				return fmt.Errorf("want a whole number, 0 for no limit, got %q", s)
			}
			d.MaxAttempts = x
			return nil
		},
		"on_ae": func(v *yaml.Node) error { aeSet = true; return policy(&d.OnAE)(v) },
		"parallel": func(v *yaml.Node) error {
			var s string
			if err := scalar(v, &s); err != nil {
				return err
			}
			x, err := strconv.Atoi(s)
			if err != nil || x < 1 || x > 64 {
				return fmt.Errorf("want a whole number from 1 to 64, got %q", s)
			}
			d.Parallel = x
			return nil
		},
		"fhir": func(v *yaml.Node) error {
			if err := scalar(v, &d.FHIR); err != nil {
				return err
			}
			if d.FHIR != "store" {
				return fmt.Errorf(`want "store" (convert into Concord's FHIR store), got %q`, d.FHIR)
			}
			return nil
		},
		"time_zone": func(v *yaml.Node) error {
			if err := scalar(v, &d.TimeZone); err != nil {
				return err
			}
			if _, err := time.LoadLocation(d.TimeZone); err != nil || d.TimeZone == "" {
				return fmt.Errorf("want an IANA time zone such as Europe/Berlin, got %q", d.TimeZone)
			}
			return nil
		},
		"on_ar": policy(&d.OnAR),
		"hl7": func(v *yaml.Node) error {
			var err error
			d.HL7, err = loadHL7(path, v)
			return err
		},
	}
	if fixedName != "" {
		delete(handlers, "name")
		delete(handlers, "channel")
		delete(handlers, "hl7")
	}
	if err := eachKey(path, n, handlers); err != nil {
		return d, err
	}
	if fixedName == "" && d.Name == AppAckDestination {
		return d, fmt.Errorf("config %s:%d: destination name %q is reserved for application_ack", path, n.Line, d.Name)
	}
	if !nameRE.MatchString(d.Name) {
		return d, fmt.Errorf("config %s:%d: destination name %q: want 1-63 of a-z 0-9 _ -", path, n.Line, d.Name)
	}
	kinds := 0
	for _, s := range []string{d.MLLP, d.HTTP, d.File, d.Channel, d.FHIR} {
		if s != "" {
			kinds++
		}
	}
	if kinds != 1 {
		return d, fmt.Errorf("config %s:%d: destination %q needs exactly one of mllp, http, file, channel, fhir", path, n.Line, d.Name)
	}
	if d.TimeZone != "" && d.FHIR == "" {
		return d, fmt.Errorf("config %s:%d: destination %q: time_zone is for fhir destinations", path, n.Line, d.Name)
	}
	if d.FHIR != "" && !aeSet {
		d.OnAE = "dead"
	}
	switch {
	case d.Parallel > 0 && d.FHIR == "":
		return d, fmt.Errorf("config %s:%d: destination %q: parallel is for fhir destinations (others deliver in order, one at a time)", path, n.Line, d.Name)
	case d.FHIR != "" && d.Parallel == 0:
		d.Parallel = DefaultFHIRParallel
	}
	if d.RetryMax < d.RetryInitial {
		d.RetryMax = d.RetryInitial
	}
	return d, nil
}

// eachKey walks a mapping node strictly: every key must be known, given
// once, and its handler's error is reported with the line it is on.
func eachKey(path string, n *yaml.Node, handlers map[string]func(*yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("config %s:%d: want a mapping (key: value)", path, n.Line)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		h, ok := handlers[k.Value]
		if !ok {
			return fmt.Errorf("config %s:%d: unknown key %q", path, k.Line, k.Value)
		}
		if seen[k.Value] {
			return fmt.Errorf("config %s:%d: key %q given twice", path, k.Line, k.Value)
		}
		seen[k.Value] = true
		if err := h(v); err != nil {
			if strings.HasPrefix(err.Error(), "config ") {
				return err
			}
			return fmt.Errorf("config %s:%d: key %q: %w", path, v.Line, k.Value, err)
		}
	}
	return nil
}

func scalar(v *yaml.Node, dst *string) error {
	if v.Kind != yaml.ScalarNode {
		return fmt.Errorf("wants a single value")
	}
	*dst = v.Value
	return nil
}

// loadChannelDir reads the channel files of a channels directory: each
// file named *.yaml or *.yml holds one channel (a mapping) or a list of
// them. A directory that does not exist holds none.
func loadChannelDir(dir string) ([]Channel, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", dir, unwrapPath(err))
	}
	var out []Channel
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || (!strings.HasSuffix(name, ".yaml") && !strings.HasSuffix(name, ".yml")) {
			continue
		}
		path := filepath.Join(dir, name)
		doc, err := readYAML(path)
		if err != nil {
			return nil, err
		}
		if doc == nil {
			continue
		}
		if doc.Kind == yaml.MappingNode {
			doc = &yaml.Node{Kind: yaml.SequenceNode, Line: doc.Line, Content: []*yaml.Node{doc}}
		}
		chs, err := loadChannels(path, doc)
		if err != nil {
			return nil, err
		}
		out = append(out, chs...)
	}
	return out, nil
}

// duration reads a positive duration such as 10s.
func duration(dst *time.Duration) func(*yaml.Node) error {
	return func(v *yaml.Node) error {
		var s string
		if err := scalar(v, &s); err != nil {
			return err
		}
		x, err := time.ParseDuration(s)
		if err != nil || x <= 0 {
			return fmt.Errorf("want a positive duration such as 10s, got %q", s)
		}
		*dst = x
		return nil
	}
}

// boolean reads true or false.
func boolean(v *yaml.Node, dst *bool) error {
	var s string
	if err := scalar(v, &s); err != nil {
		return err
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("want true or false, got %q", s)
	}
	*dst = b
	return nil
}

// list reads a list of single values (or one value) and hands each to fn.
func list(v *yaml.Node, fn func(string) error) error {
	items := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		items = v.Content
	}
	for _, it := range items {
		var s string
		if err := scalar(it, &s); err != nil {
			return err
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

// parsePrefix reads an address (one host) or a CIDR prefix.
func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("want an IP address or CIDR prefix such as 10.1.0.0/16, got %q", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// checkChannelGraph checks what can only be checked with every channel
// known: a destination's target channel exists, channels feeding each
// other do not form a loop, and each channel has a source or is fed by
// another channel.
func checkChannelGraph(chs []Channel) error {
	byName := map[string]*Channel{}
	for i := range chs {
		if prev, ok := byName[chs[i].Name]; ok {
			return fmt.Errorf("config: channel %q defined twice: %s:%d and %s:%d", chs[i].Name, prev.File, prev.Line, chs[i].File, chs[i].Line)
		}
		byName[chs[i].Name] = &chs[i]
	}
	fed := map[string]bool{}
	for _, ch := range chs {
		for _, d := range ch.Destinations {
			if d.Channel == "" {
				continue
			}
			if _, ok := byName[d.Channel]; !ok && d.Channel != "default" {
				return fmt.Errorf("config %s:%d: channel %q destination %q: no channel named %q", ch.File, ch.Line, ch.Name, d.Name, d.Channel)
			}
			fed[d.Channel] = true
		}
	}
	for _, ch := range chs {
		if ch.Changes != nil && fed[ch.Name] {
			return fmt.Errorf("config %s:%d: channel %q has a changes source, so no other channel's destination may feed it", ch.File, ch.Line, ch.Name)
		}
		if ch.MLLP == "" && !ch.HTTP && ch.FileDrop == nil && ch.Changes == nil && !fed[ch.Name] {
			return fmt.Errorf("config %s:%d: channel %q needs a source: mllp: host:port, http: true, file_drop, changes, or another channel's destination", ch.File, ch.Line, ch.Name)
		}
	}
	// Depth-first search for a loop of channel destinations.
	const (
		unseen = iota
		open
		closed
	)
	state := map[string]int{}
	var stack []string
	var visit func(name string) error
	visit = func(name string) error {
		switch state[name] {
		case open:
			i := 0
			for stack[i] != name {
				i++
			}
			return fmt.Errorf("config: channels feed each other in a loop: %s → %s", strings.Join(stack[i:], " → "), name)
		case closed:
			return nil
		}
		state[name] = open
		stack = append(stack, name)
		if ch := byName[name]; ch != nil {
			for _, d := range ch.Destinations {
				if d.Channel != "" {
					if err := visit(d.Channel); err != nil {
						return err
					}
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = closed
		return nil
	}
	for _, ch := range chs {
		if err := visit(ch.Name); err != nil {
			return err
		}
	}
	return nil
}
