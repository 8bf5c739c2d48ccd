package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concord-health/concord/mllp"
)

const sampleInputs = "../../../shared/data/hl7v2/fhir-converter/input"

// TestSendSamplesToDefaultChannel runs serve with the default channel
// only storing (default_fhir off), sends every shared sample with concord
// send, and finds each in the message store through the admin API.
func TestSendSamplesToDefaultChannel(t *testing.T) {
	abs, _ := filepath.Abs(sampleInputs)
	files, _ := filepath.Glob(filepath.Join(abs, "*.hl7"))
	if len(files) == 0 {
		t.Skip("../shared absent")
	}
	dir := t.TempDir()
	data := []string{"--data", filepath.Join(dir, "d")}
	// Samples reuse control IDs; with the duplicate check off each is stored as received.
	n := startServe(t, dir, append(data, "--duplicate-window", "0", "--default-fhir=false")...)
	out, errOut, code := run(t, dir, append([]string{"send", "--to", n.mllp, "--timeout", "20s", "--enhanced-wait", "300ms"}, files...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(files) {
		t.Fatalf("%d acknowledgments for %d files:\n%s\n%s", len(lines), len(files), out, errOut)
	}
	refused, errored := 0, 0
	for i, l := range lines {
		parts := strings.Split(l, "\t")
		want := expectedAck(t, files[i])
		if want == "" {
			want = "sent"
		}
		if want != "AA" && want != "CA" && want != "sent" {
			refused++
		}
		if _, code := validated(t, files[i]); code != "AA" {
			errored++ // stored as errored, acknowledged or not
		}
		if len(parts) < 3 || parts[2] != want {
			t.Errorf("%s: got %q, want %s", filepath.Base(files[i]), l, want)
		}
	}
	if (refused > 0) != (code != 0) {
		t.Errorf("send exit %d with %d messages refused:\n%s", code, refused, errOut)
	}
	bearer, _, _ := run(t, dir, append([]string{"token", "create", "--role", "integration"}, data...)...)
	bearer = strings.TrimSpace(bearer)
	code, body := get(t, n.url+"/api/channels", bearer)
	var chans []struct {
		Name              string
		State             string
		Received, Errored int
	}
	if err := json.Unmarshal([]byte(body), &chans); err != nil || code != 200 || len(chans) != 1 ||
		chans[0].Name != "default" || chans[0].State != "started" || chans[0].Received+chans[0].Errored != len(files) ||
		chans[0].Errored != errored {
		t.Fatalf("/api/channels %d %s", code, body)
	}
	code, body = get(t, n.url+"/api/messages?control_id=MSG00001&type=ADT&status=received&limit=5", bearer)
	var page struct {
		Total    int
		Messages []struct {
			ID                               int
			Channel, ControlID, Type, Status string
			Control                          string `json:"control_id"`
		}
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil || code != 200 || page.Total == 0 || len(page.Messages) == 0 {
		t.Fatalf("/api/messages %d %s", code, body)
	}
	first := page.Messages[0]
	if first.Control != "MSG00001" || first.Type != "ADT" || first.Channel != "default" || first.Status != "received" {
		t.Fatalf("message %+v", first)
	}
	code, body = get(t, fmt.Sprintf("%s/api/messages/%d", n.url, first.ID), bearer)
	var detail struct {
		Raw       string
		PatientID string `json:"patient_id"`
		Segments  []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(body), &detail); err != nil || code != 200 || !strings.HasPrefix(detail.Raw, "MSH|") ||
		len(detail.Segments) < 2 || detail.Segments[0].Name != "MSH" {
		t.Fatalf("/api/messages/%d %d %.300s", first.ID, code, body)
	}
	if code, _ := get(t, n.url+"/api/messages?limit=5000", bearer); code != 400 {
		t.Fatalf("limit 5000: %d", code)
	}
	if code, _ := get(t, n.url+"/api/messages/abc", bearer); code != 400 {
		t.Fatalf("bad id: %d", code)
	}
	clin, _, _ := run(t, dir, append([]string{"token", "create", "--role", "clinician"}, data...)...)
	if code, _ := get(t, n.url+"/api/messages", strings.TrimSpace(clin)); code != 403 {
		t.Fatalf("clinician may not browse interface messages: %d", code)
	}
	n.stop(t)
	// The read of one message is audited with the message and its patient.
	export, _, _ := run(t, dir, append([]string{"audit", "export"}, data...)...)
	want := fmt.Sprintf(`"reference":"Patient/%s"`, detail.PatientID)
	if detail.PatientID == "" || !strings.Contains(export, fmt.Sprintf(`"display":"message/%d"`, first.ID)) || !strings.Contains(export, want) {
		t.Fatalf("audit trail lacks the message read (patient %q)", detail.PatientID)
	}
}

// TestBadInputOverMLLP sends input that is not a message and a frame over
// the size limit: the first gets AR, the second a closed connection, both
// are stored, and the server keeps serving.
func TestBadInputOverMLLP(t *testing.T) {
	dir := t.TempDir()
	data := []string{"--data", filepath.Join(dir, "d")}
	n := startServe(t, dir, data...)
	c := &mllp.Client{Addr: n.mllp, AckTimeout: 5 * time.Second,
		Match: func(msg, ack []byte) bool { return strings.Contains(string(ack), "MSA|") }}
	defer c.Close()
	ack, err := c.Send(t.Context(), []byte("this is not HL7 at all"))
	if err != nil || !strings.Contains(string(ack), "MSA|AR|") || !strings.Contains(string(ack), "ERR|") {
		t.Fatalf("garbage: %v %q", err, ack)
	}
	// A frame just over 16 MiB: the server closes the connection.
	conn, err := net.Dial("tcp", n.mllp)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, mllp.DefaultMaxFrameSize+10)
	for i := range big {
		big[i] = 'A'
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	conn.Write([]byte{mllp.StartBlock})
	conn.Write(big)
	buf := make([]byte, 1)
	if _, err := conn.Read(buf); err == nil {
		t.Fatal("connection not closed after an oversized frame")
	}
	conn.Close()
	// Still serving.
	msg, _ := os.ReadFile(filepath.Join("testdata", "synthetic-adt.hl7"))
	ack, err = c.Send(t.Context(), msg)
	if err != nil || !strings.Contains(string(ack), "MSA|AA|") {
		t.Fatalf("after bad input: %v %q", err, ack)
	}
	bearer, _, _ := run(t, dir, append([]string{"token", "create", "--role", "admin"}, data...)...)
	_, body := get(t, n.url+"/api/messages?status=rejected", strings.TrimSpace(bearer))
	if !strings.Contains(body, `"total": 2`) || !strings.Contains(body, "framing") {
		t.Fatalf("rejected input not stored: %s", body)
	}
}
