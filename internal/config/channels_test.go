package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestChannels(t *testing.T) {
	p := write(t, `http: ":8080"
channels:
  - name: adt-feed
    mllp: ":2576"
    destinations:
      - name: lis
        mllp: "lis.example:2575"
        retry_initial: 2s
        retry_max: 1m
        max_attempts: 10
        on_ae: dead
      - name: archive
        file: /var/lib/concord/archive
      - name: hook
        http: https://hooks.example/hl7
`)
	c, err := Load(Sources{File: p})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Channels) != 1 || c.Channels[0].Name != "adt-feed" || c.Channels[0].MLLP != ":2576" || len(c.Channels[0].Destinations) != 3 {
		t.Fatalf("channels %+v", c.Channels)
	}
	lis := c.Channels[0].Destinations[0]
	if lis.MLLP != "lis.example:2575" || lis.RetryInitial != 2*time.Second || lis.RetryMax != time.Minute || lis.MaxAttempts != 10 ||
		lis.OnAE != "dead" || lis.OnAR != "dead" || lis.Timeout != 30*time.Second {
		t.Fatalf("lis %+v", lis)
	}
	if a := c.Channels[0].Destinations[1]; a.File == "" || a.OnAE != "retry" || a.RetryInitial != time.Second {
		t.Fatalf("archive %+v", a)
	}
	bad := map[string]string{
		"channels: x\n": "channels must be a list",
		"channels:\n  - name: a\n    mllp: \":1\"\n    colour: red\n":                    `:4: unknown key "colour"`,
		"channels:\n  - name: A!\n    mllp: \":1\"\n":                                    `channel name "A!"`,
		"channels:\n  - name: default\n    mllp: \":1\"\n":                               "defined twice (or named default",
		"channels:\n  - name: a\n":                                                       "needs a source",
		"channels:\n  - name: a\n    mllp: nope\n":                                       `key "mllp": want host:port`,
		"channels:\n  - name: a\n    mllp: \":1\"\n    destinations:\n      - name: d\n": "needs exactly one of mllp, http, file",
		"channels:\n  - name: a\n    mllp: \":1\"\n    destinations:\n      - name: d\n        file: x\n        http: http://y\n": "needs exactly one",
		"channels:\n  - name: a\n    mllp: \":1\"\n    destinations:\n      - name: d\n        file: x\n        on_ar: maybe\n":   `:7: key "on_ar": want retry or dead`,
		"channels:\n  - name: a\n    mllp: \":1\"\n    destinations:\n      - name: d\n        http: ftp://x\n":                   "want an http:// or https:// URL",
		"channels:\n  - name: a\n    mllp: \":1\"\n    destinations:\n      - {name: d, file: x}\n      - {name: d, file: y}\n":   `two destinations named "d"`,
	}
	for in, want := range bad {
		_, err := Load(Sources{File: write(t, in)})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "concord.yaml") {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

// TestChannelSources: every kind of source, TLS and peer allow-lists,
// answering after destinations, and channels feeding other channels.
func TestChannelSources(t *testing.T) {
	p := write(t, `channels:
  - name: adt
    mllp: ":2576"
    tls: {cert: s.pem, key: s.key, client_ca: ca.pem}
    allow: [10.1.0.0/16, 192.168.7.9, "::1"]
    allow_subjects: [registration]
    respond: destinations
    respond_timeout: 5s
    application_ack: {mllp: "reg.example:2577", retry_max: 1m}
    destinations:
      - {name: fan-out, channel: archive}
  - name: archive
    destinations:
      - {name: disk, file: /tmp/x}
  - name: uploads
    http: true
    file_drop: {dir: /srv/drop, pattern: "*.hl7", poll: 500ms}
`)
	c, err := Load(Sources{File: p})
	if err != nil {
		t.Fatal(err)
	}
	adt := c.Channels[0]
	if adt.TLS == nil || adt.TLS.Cert != "s.pem" || adt.TLS.ClientCA != "ca.pem" || len(adt.Allow) != 3 ||
		adt.Allow[1].String() != "192.168.7.9/32" || adt.Allow[2].String() != "::1/128" ||
		len(adt.AllowSubjects) != 1 || !adt.RespondAfterDestinations || adt.RespondTimeout != 5*time.Second ||
		adt.Destinations[0].Channel != "archive" || adt.AppAck == nil || adt.AppAck.Name != AppAckDestination ||
		adt.AppAck.MLLP != "reg.example:2577" || adt.AppAck.RetryMax != time.Minute {
		t.Fatalf("adt %+v", adt)
	}
	up := c.Channels[2]
	if !up.HTTP || up.FileDrop == nil || up.FileDrop.Dir != "/srv/drop" || up.FileDrop.Pattern != "*.hl7" ||
		up.FileDrop.Poll != 500*time.Millisecond {
		t.Fatalf("uploads %+v", up)
	}
	bad := map[string]string{
		"channels:\n  - {name: a, mllp: \":1\", destinations: [{name: d, channel: b}]}\n":                                                       `no channel named "b"`,
		"channels:\n  - {name: a, mllp: \":1\", destinations: [{name: d, channel: b}]}\n  - {name: b, destinations: [{name: e, channel: a}]}\n": "loop: a → b → a",
		"channels:\n  - {name: a, destinations: [{name: d, channel: a}]}\n":                                                                     "loop: a → a",
		"channels:\n  - {name: a, http: yes-please}\n":                                                                                          "want true or false",
		"channels:\n  - {name: a, http: true, tls: {cert: c}}\n":                                                                                "needs cert and key",
		"channels:\n  - {name: a, http: true, allow: [10.0.0.1]}\n":                                                                             "apply to an mllp source",
		"channels:\n  - {name: a, mllp: \":1\", allow: [not-an-ip]}\n":                                                                          "want an IP address or CIDR",
		"channels:\n  - {name: a, mllp: \":1\", allow_subjects: [x]}\n":                                                                         "allow_subjects needs tls with client_ca",
		"channels:\n  - {name: a, mllp: \":1\", respond: later}\n":                                                                              "want commit or destinations",
		"channels:\n  - {name: a, file_drop: {pattern: \"*\"}}\n":                                                                               "needs dir",
		"channels:\n  - {name: a, file_drop: {dir: x, pattern: \"[\"}}\n":                                                                       "file name pattern",
	}
	for in, want := range bad {
		_, err := Load(Sources{File: write(t, in)})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

// TestChannelDirectory: channels/ beside the configuration file adds
// channels, one per file or a list per file, with errors naming the file.
func TestChannelDirectory(t *testing.T) {
	p := write(t, "channels:\n  - {name: main, mllp: \":2576\", destinations: [{name: d, channel: lab}]}\n")
	dir := filepath.Join(filepath.Dir(p), ChannelDir)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "lab.yaml"), []byte("name: lab\ndestinations:\n  - {name: lis, mllp: \"lis:2575\"}\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "more.yml"), []byte("- {name: rad, http: true}\n- {name: rx, http: true}\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not a channel"), 0o600)
	c, err := Load(Sources{File: p})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ch := range c.Channels {
		names = append(names, ch.Name)
	}
	if strings.Join(names, ",") != "main,lab,rad,rx" {
		t.Fatalf("channels %v", names)
	}
	os.WriteFile(filepath.Join(dir, "zz.yaml"), []byte("name: lab\nhttp: true\n"), 0o600)
	if _, err := Load(Sources{File: p}); err == nil || !strings.Contains(err.Error(), `channel "lab" defined twice`) ||
		!strings.Contains(err.Error(), "zz.yaml:1") {
		t.Fatalf("duplicate across files: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "zz.yaml"), []byte("name: zz\nhttp: true\ncolour: red\n"), 0o600)
	if _, err := Load(Sources{File: p}); err == nil || !strings.Contains(err.Error(), "zz.yaml:3: unknown key") {
		t.Fatalf("bad key in a channel file: %v", err)
	}
}

// TestParallelKey: fhir destinations convert several messages at once
// (8 unless parallel says otherwise); other destinations stay strictly
// in order and refuse the key.
func TestParallelKey(t *testing.T) {
	c, err := Load(Sources{File: write(t, "channels:\n  - name: a\n    mllp: \":1\"\n    destinations:\n"+
		"      - {name: f, fhir: store}\n      - {name: g, fhir: store, parallel: 1}\n      - {name: h, fhir: store, parallel: 32}\n"+
		"      - {name: lis, mllp: \"lis:1\"}\n")})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, d := range c.Channels[0].Destinations {
		got = append(got, d.Parallel)
	}
	if want := []int{DefaultFHIRParallel, 1, 32, 0}; !slices.Equal(got, want) {
		t.Errorf("parallel %v, want %v", got, want)
	}
	if d := DefaultFHIRDestination(); d.Parallel != DefaultFHIRParallel {
		t.Errorf("default channel's fhir destination: parallel %d", d.Parallel)
	}
	for in, want := range map[string]string{
		"{name: d, fhir: store, parallel: 0}":     "want a whole number from 1 to 64",
		"{name: d, fhir: store, parallel: 65}":    "want a whole number from 1 to 64",
		"{name: d, fhir: store, parallel: x}":     "want a whole number from 1 to 64",
		"{name: d, mllp: \"lis:1\", parallel: 4}": "parallel is for fhir destinations",
	} {
		_, err := Load(Sources{File: write(t, "channels:\n  - name: a\n    mllp: \":1\"\n    destinations:\n      - "+in+"\n")})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}
