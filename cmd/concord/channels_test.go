package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfiguredChannel runs a channel from concord.yaml whose messages
// go to a directory and to a second Concord over MLLP, and follows them
// through the admin API.
func TestConfiguredChannel(t *testing.T) {
	dir := t.TempDir()
	// The partner: another Concord, receiving on its default channel.
	partner := startServe(t, t.TempDir(), "--data", filepath.Join(dir, "partner"))
	chanAddr := freePort(t)
	out := filepath.Join(dir, "outbox")
	cfg := fmt.Sprintf(`channels:
  - name: adt-feed
    mllp: %q
    filter: 'type == "ADT" && msg.get("PID-3.1") != ""'
    transform:
      - set: PID-2
        value: '"EXT-" + msg.get("PID-3.1")'
      - map: PV1-2
        table: {O: outpatient, I: inpatient}
      - add_segment: "ZCN|1|forwarded by Concord"
    destinations:
      - name: archive
        file: %q
      - name: partner
        mllp: %q
        retry_initial: 50ms
        retry_max: 200ms
`, chanAddr, out, partner.mllp)
	os.WriteFile(filepath.Join(dir, "concord.yaml"), []byte(cfg), 0o600)
	n := startServe(t, dir, "--data", filepath.Join(dir, "d"))
	msg, _ := filepath.Abs(filepath.Join("testdata", "synthetic-adt.hl7"))
	if o, e, code := run(t, dir, "send", "--to", chanAddr, msg); code != 0 || !strings.Contains(o, "\tAA") {
		t.Fatalf("send: %d %s %s", code, o, e)
	}
	bearer, _, _ := run(t, dir, "token", "create", "--role", "integration", "--data", filepath.Join(dir, "d"))
	var chans []struct {
		Name         string
		Received     int
		Queued, Sent int
		Destinations []struct {
			Name string
			Sent int
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body := get(t, n.url+"/api/channels", strings.TrimSpace(bearer))
		if err := json.Unmarshal([]byte(body), &chans); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		if len(chans) == 2 && chans[1].Name == "adt-feed" && chans[1].Sent == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if chans[0].Name != "default" || chans[1].Received != 1 || chans[1].Queued != 0 || len(chans[1].Destinations) != 2 {
		t.Fatalf("channels %+v", chans)
	}
	files, _ := filepath.Glob(filepath.Join(out, "adt-feed-*.hl7"))
	if len(files) != 1 {
		t.Fatalf("outbox %v", files)
	}
	written, _ := os.ReadFile(files[0])
	for _, want := range []string{"PID|1|EXT-MRN-77|", "PV1|1|outpatient", "ZCN|1|forwarded by Concord"} {
		if !strings.Contains(string(written), want) {
			t.Errorf("transformed message lacks %q: %q", want, written)
		}
	}
	pb, _, _ := run(t, dir, "token", "create", "--role", "integration", "--data", filepath.Join(dir, "partner"))
	_, body := get(t, partner.url+"/api/messages?control_id=SYN-1", strings.TrimSpace(pb))
	if !strings.Contains(body, `"total": 1`) {
		t.Fatalf("partner did not store the message: %s", body)
	}
	n.stop(t)
}
