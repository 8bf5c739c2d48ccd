package config

import (
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
