package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concord-health/concord/hl7v2"
)

// TestMLLPSendInterop sends every shared sample with Debian's mllp_send
// (package python3-hl7, a real peer) to the default channel. Each gets AA,
// or CA in enhanced mode; messages whose MSH-15 says ER or NE get no
// accept acknowledgment on success, as the standard says, and are stored
// all the same.
func TestMLLPSendInterop(t *testing.T) {
	tool, err := exec.LookPath("mllp_send")
	if err != nil {
		t.Skip("mllp_send not installed (apt-get install python3-hl7)")
	}
	abs, _ := filepath.Abs(sampleInputs)
	files, _ := filepath.Glob(filepath.Join(abs, "*.hl7"))
	if len(files) == 0 {
		t.Skip("../shared absent")
	}
	dir := t.TempDir()
	data := []string{"--data", filepath.Join(dir, "d")}
	n := startServe(t, dir, append(data, "--duplicate-window", "0", "--default-fhir=false")...)
	host, port, _ := strings.Cut(n.mllp, ":")
	silent, refused := 0, 0
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		msg, err := hl7v2.Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		want := expectedAck(t, f)
		enhancedQuiet := want == ""
		wait := 20 * time.Second
		if enhancedQuiet {
			wait = time.Second
			silent++
		}
		// --loose: the samples end segments with LF. mllp_send --loose splits
		// a file on "MSH|^~\&|" and would send a byte-order mark before it as
		// a message of its own, so it gets a copy without the mark.
		src := filepath.Join(dir, "send.hl7")
		if err := os.WriteFile(src, bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf")), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		out, err := exec.CommandContext(ctx, tool, "--loose", "-f", src, "-p", port, host).CombinedOutput()
		cancel()
		ack := string(bytes.ReplaceAll(out, []byte("\r"), []byte("\n")))
		name := filepath.Base(f)
		if enhancedQuiet {
			if strings.Contains(ack, "MSA|") {
				t.Errorf("%s: MSH-15 %s, yet acknowledged on success:\n%s", name, msg.AcceptAckType(), ack)
			}
			continue
		}
		// AA or, in enhanced mode, CA; AE/CE with ERR of severity E for the
		// samples that break the standard. An accepted message may carry
		// warnings or information (ERR-4 W or I).
		// Before v2.5 ERR has no severity (ERR-1 only).
		accepted := want == "AA" || want == "CA"
		errs, severe := 0, 0
		for _, line := range strings.Split(ack, "\n") {
			if strings.HasPrefix(line, "ERR|") {
				errs++
				if f := strings.Split(line, "|"); len(f) > 4 && f[4] == "E" {
					severe++
				}
			}
		}
		if err != nil || !strings.Contains(ack, "MSA|"+want+"|"+msg.ControlID()) || strings.Count(ack, "MSA|") != 1 ||
			(accepted && severe > 0) || (!accepted && errs == 0) {
			t.Errorf("%s: want %s: %v\n%s", name, want, err, ack)
		}
		if want != "AA" && want != "CA" {
			refused++
		}
	}
	bearer, _, _ := run(t, dir, append([]string{"token", "create", "--role", "integration"}, data...)...)
	_, body := get(t, n.url+"/api/channels", strings.TrimSpace(bearer))
	var chans []struct{ Received, Errored int }
	if err := json.Unmarshal([]byte(body), &chans); err != nil || len(chans) != 1 || chans[0].Received+chans[0].Errored != len(files) {
		t.Fatalf("%d files sent, channels say %s", len(files), body)
	}
	t.Logf("%d samples sent with mllp_send: %d accepted (AA, or CA in enhanced mode), %d refused with ERR (AE/CE: they break the standard), %d enhanced-mode (MSH-15 ER/NE) stored without an accept acknowledgment",
		len(files), len(files)-silent-refused, refused, silent)
}
