package config

import (
	"fmt"
	"net"
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
	// MLLP is the listen address of the channel's MLLP source.
	MLLP string
	// Filter is a CEL expression deciding which messages the channel
	// passes to its destinations (see engine.Filter); empty passes all.
	Filter string
	// Transform is the channel's transformer steps (see engine.Step).
	Transform    []Step
	Destinations []Destination
	Line         int // where the channel is defined, for messages
}

// Step is one transformer step from concord.yaml: exactly one of set
// (with value), copy (with to), clear, map (with table and optionally
// default), delete_segments and add_segment.
type Step struct {
	Set, Value, Copy, To, Clear, Map string
	Table                            map[string]string
	Default                          *string
	DeleteSegments, AddSegment       string
}

// Destination is where a channel delivers each message it accepts, with
// its own durable FIFO queue and retry policy.
type Destination struct {
	Name string
	// Exactly one of these says how to deliver.
	MLLP string // host:port of an MLLP receiver
	HTTP string // URL to POST the message to
	File string // directory to write each message to, one file each
	// Retry policy: the first retry waits RetryInitial, each next one
	// twice as long, at most RetryMax; MaxAttempts 0 means forever.
	RetryInitial time.Duration
	RetryMax     time.Duration
	MaxAttempts  int
	// Timeout bounds one attempt (connect, send, acknowledgment).
	Timeout time.Duration
	// OnAE and OnAR say what a partner's AE or AR answer does: "retry"
	// or "dead" (stop and wait for an operator).
	OnAE, OnAR string
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
		ch := Channel{Line: item.Line}
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
			"destinations": func(v *yaml.Node) error {
				if v.Kind != yaml.SequenceNode {
					return fmt.Errorf("must be a list")
				}
				for _, dn := range v.Content {
					d, err := loadDestination(path, dn)
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
		if ch.MLLP == "" {
			return nil, fmt.Errorf("config %s:%d: channel %q needs a source: mllp: host:port", path, item.Line, ch.Name)
		}
		dests := map[string]bool{}
		for _, d := range ch.Destinations {
			if dests[d.Name] {
				return nil, fmt.Errorf("config %s:%d: channel %q has two destinations named %q", path, item.Line, ch.Name, d.Name)
			}
			dests[d.Name] = true
		}
		out = append(out, ch)
	}
	return out, nil
}

func loadDestination(path string, n *yaml.Node) (Destination, error) {
	d := Destination{RetryInitial: time.Second, RetryMax: 5 * time.Minute, Timeout: 30 * time.Second, OnAE: "retry", OnAR: "dead"}
	dur := func(dst *time.Duration) func(*yaml.Node) error {
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
	err := eachKey(path, n, map[string]func(*yaml.Node) error{
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
		"on_ae": policy(&d.OnAE),
		"on_ar": policy(&d.OnAR),
	})
	if err != nil {
		return d, err
	}
	if !nameRE.MatchString(d.Name) {
		return d, fmt.Errorf("config %s:%d: destination name %q: want 1-63 of a-z 0-9 _ -", path, n.Line, d.Name)
	}
	kinds := 0
	for _, s := range []string{d.MLLP, d.HTTP, d.File} {
		if s != "" {
			kinds++
		}
	}
	if kinds != 1 {
		return d, fmt.Errorf("config %s:%d: destination %q needs exactly one of mllp, http, file", path, n.Line, d.Name)
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
