package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/internal/convert"
)

// TestDefaultChannelConvertsToFHIR runs serve as it comes (the default
// channel converts into the FHIR store and answers after that) and sends
// every shared sample: a valid message of a type the converter supports is
// answered AA and its resources are in the store (one Provenance per
// message); a valid message of another type is answered AE with
// "unsupported message type" in ERR, and stays stored with its delivery
// dead, for an operator to reprocess.
func TestDefaultChannelConvertsToFHIR(t *testing.T) {
	abs, _ := filepath.Abs(sampleInputs)
	files, _ := filepath.Glob(filepath.Join(abs, "*.hl7"))
	if len(files) == 0 {
		t.Skip("../shared absent")
	}
	dir := t.TempDir()
	data := []string{"--data", filepath.Join(dir, "d")}
	n := startServe(t, dir, append(data, "--duplicate-window", "0")...)
	out, errOut, _ := run(t, dir, append([]string{"send", "--to", n.mllp, "--timeout", "60s", "--enhanced-wait", "300ms"}, files...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(files) {
		t.Fatalf("%d acknowledgments for %d files:\n%s\n%s", len(lines), len(files), out, errOut)
	}
	supported := convert.Supported()
	converted, unsupported := 0, 0
	for i, f := range files {
		m, code := validated(t, f)
		typ, trigger, _ := m.MessageType()
		if trigger == "" {
			trigger = m.Get("EVN-1")
		}
		want := code
		switch {
		case code != hl7v2.AA:
		case slices.Contains(supported, typ+"^"+trigger):
			converted++
		default:
			want = hl7v2.AE
			unsupported++
		}
		line := lines[i]
		fields := strings.Split(line, "\t")
		wantText := ackFor(m, want)
		if wantText == "" {
			wantText = "sent"
		}
		if len(fields) < 3 || fields[2] != wantText {
			t.Errorf("%s (%s^%s, validation %s): got %q, want %s", filepath.Base(f), typ, trigger, code, line, wantText)
		}
	}
	if unsupported > 0 && !strings.Contains(out+errOut, "unsupported message type") {
		t.Errorf("no ERR says %q:\n%.2000s", "unsupported message type", out+errOut)
	}
	bearer, _, _ := run(t, dir, append([]string{"token", "create", "--role", "admin"}, data...)...)
	bearer = strings.TrimSpace(bearer)
	code, body := get(t, n.url+"/api/channels", bearer)
	var chans []struct {
		Name         string
		Destinations []struct {
			Name       string
			Sent, Dead int
		}
	}
	if err := json.Unmarshal([]byte(body), &chans); err != nil || code != 200 || len(chans) != 1 || len(chans[0].Destinations) != 1 {
		t.Fatalf("/api/channels %d %s", code, body)
	}
	d := chans[0].Destinations[0]
	if d.Name != "fhir" || d.Sent != converted || d.Dead != unsupported {
		t.Errorf("destination %+v; want fhir with %d sent and %d dead", d, converted, unsupported)
	}
	// One Provenance per converted message, naming the stored message.
	code, body = get(t, n.url+"/fhir/Provenance?_summary=count", bearer)
	if want := fmt.Sprintf(`"total":%d`, converted); code != 200 || !strings.Contains(body, want) {
		t.Errorf("Provenance count: %d %s, want %s", code, body, want)
	}
	code, body = get(t, n.url+"/fhir/Patient?_summary=count", bearer)
	if code != 200 || strings.Contains(body, `"total":0`) {
		t.Errorf("no Patient stored: %d %s", code, body)
	}
	t.Logf("%d samples: %d converted and stored (AA), %d of unsupported types (AE), %d refused by validation",
		len(files), converted, unsupported, len(files)-converted-unsupported)
}
