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
)

// freePort returns a loopback address whose port was free a moment ago.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestOperatorActions: edit and resend an invalid message, retry a
// delivery that died while its partner was down, discard a message's
// queued deliveries; every action is audited under the operator's token.
func TestOperatorActions(t *testing.T) {
	dir := t.TempDir()
	data := []string{"--data", filepath.Join(dir, "d")}
	feed, partnerAddr := freePort(t), freePort(t)
	cfg := fmt.Sprintf("channels:\n  - name: feed\n    mllp: %q\n    destinations:\n      - name: partner\n        mllp: %q\n"+
		"        max_attempts: 1\n        timeout: 2s\n", feed, partnerAddr)
	os.WriteFile(filepath.Join(dir, "concord.yaml"), []byte(cfg), 0o600)
	n := startServe(t, dir, data...)
	admin, _, _ := run(t, dir, append([]string{"token", "create", "--role", "integration", "--label", "synthetic operator"}, data...)...)
	admin = strings.TrimSpace(admin)
	tokID := strings.TrimPrefix(strings.Split(admin, ".")[0], "cnc_")

	// 1. An invalid message (PID-7 is not a date) is answered AE; the operator
	// fixes it and resends it.
	bad := "MSH|^~\\&|REG|North|EHR|Ward|20260102030405||ADT^A04^ADT_A01|OPS-1|P|2.5.1\rEVN|A04|20260102030405\r" +
		"PID|1||MRN-5^^^North^MR||Synthetic^Op||1990-01-01|F\rPV1|1|O\r"
	os.WriteFile(filepath.Join(dir, "bad.hl7"), []byte(bad), 0o600)
	out, _, _ := run(t, dir, "send", "--to", feed, filepath.Join(dir, "bad.hl7"))
	if !strings.Contains(out, "\tAE\t") {
		t.Fatalf("invalid message: %s", out)
	}
	_, body := get(t, n.url+"/api/messages?control_id=OPS-1", admin)
	var page struct{ Messages []struct{ ID int } }
	json.Unmarshal([]byte(body), &page)
	if len(page.Messages) != 1 {
		t.Fatalf("errored message not found: %s", body)
	}
	errID := page.Messages[0].ID
	fixed, _ := json.Marshal(map[string]string{"raw": strings.Replace(bad, "1990-01-01", "19900101", 1)})
	code, body := post(t, fmt.Sprintf("%s/api/messages/%d/reprocess", n.url, errID), admin, string(fixed))
	var rep struct {
		MessageID int    `json:"message_id"`
		Status    string `json:"status"`
		AckCode   string `json:"ack_code"`
	}
	if json.Unmarshal([]byte(body), &rep); code != 200 || rep.Status != "received" || rep.AckCode != "AA" || rep.MessageID == errID {
		t.Fatalf("edit and resend: %d %s", code, body)
	}

	// 2. The partner is down: the delivery of the fixed message dies after
	// one attempt. Once the partner is up, retry delivers it.
	waitDelivery := func(id int, want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, body := get(t, fmt.Sprintf("%s/api/messages/%d", n.url, id), admin)
			var d struct {
				Deliveries []struct {
					ID     int
					Status string
				}
			}
			json.Unmarshal([]byte(body), &d)
			if len(d.Deliveries) == 1 && d.Deliveries[0].Status == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("message %d: delivery not %s: %s", id, want, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitDelivery(rep.MessageID, "dead")
	// Operators find what needs them by where its deliveries stand.
	if _, body := get(t, n.url+"/api/messages?delivery_status=dead&destination=partner", admin); !strings.Contains(body, fmt.Sprintf(`"id": %d,`, rep.MessageID)) ||
		!strings.Contains(body, `"total": 1`) {
		t.Fatalf("search for dead deliveries: %s", body)
	}
	if code, _ := get(t, n.url+"/api/messages?delivery_status=lost", admin); code != 400 {
		t.Fatalf("a bad delivery_status answered %d", code)
	}
	_, body = get(t, fmt.Sprintf("%s/api/messages/%d", n.url, rep.MessageID), admin)
	var detail struct{ Deliveries []struct{ ID int } }
	json.Unmarshal([]byte(body), &detail)
	partner := startServe(t, t.TempDir(), "--data", filepath.Join(dir, "partner"), "--mllp", partnerAddr)
	_ = partner
	if code, body := post(t, fmt.Sprintf("%s/api/deliveries/%d/retry", n.url, detail.Deliveries[0].ID), admin, ""); code != 200 {
		t.Fatalf("retry: %d %s", code, body)
	}
	waitDelivery(rep.MessageID, "sent")
	if code, _ := post(t, fmt.Sprintf("%s/api/deliveries/%d/retry", n.url, detail.Deliveries[0].ID), admin, ""); code != 409 {
		t.Fatalf("retrying a sent delivery: %d, want 409", code)
	}

	// 3. Discard: nothing queued is left for the fixed message; unknown ids
	// are 404; a clinician may not act.
	if code, body := post(t, fmt.Sprintf("%s/api/messages/%d/discard", n.url, rep.MessageID), admin, ""); code != 200 || !strings.Contains(body, `"discarded": 0`) {
		t.Fatalf("discard: %d %s", code, body)
	}
	if code, _ := post(t, n.url+"/api/messages/999999/reprocess", admin, ""); code != 404 {
		t.Fatalf("reprocess unknown: %d", code)
	}
	// The channel's metrics.
	_, metrics := get(t, n.url+"/metrics", admin)
	for _, want := range []string{
		`concord_messages_received_total{channel="feed",status="errored"} 1`,
		`concord_messages_received_total{channel="feed",status="received"} 1`,
		`concord_delivery_attempts_total{channel="feed",destination="partner",outcome="dead"} 1`,
		`concord_delivery_attempts_total{channel="feed",destination="partner",outcome="sent"} 1`,
		`concord_delivery_queue{channel="feed",destination="partner",status="sent"} 1`,
		`concord_receive_seconds_count{channel="feed"} 2`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	clin, _, _ := run(t, dir, append([]string{"token", "create", "--role", "clinician"}, data...)...)
	if code, _ := post(t, fmt.Sprintf("%s/api/messages/%d/reprocess", n.url, errID), strings.TrimSpace(clin), ""); code != 403 {
		t.Fatalf("clinician reprocess: %d", code)
	}
	n.stop(t)

	// Every operator action is in the audit trail under the operator.
	export, _, _ := run(t, dir, append([]string{"audit", "export"}, data...)...)
	var byOperator []string
	for _, line := range strings.Split(strings.TrimSpace(export), "\n") {
		if strings.Contains(line, `"value":"`+tokID+`"`) {
			var ev struct{ OutcomeDesc string }
			json.Unmarshal([]byte(line), &ev)
			byOperator = append(byOperator, ev.OutcomeDesc)
		}
	}
	joined := strings.Join(byOperator, " | ")
	for _, want := range []string{"reprocessed: channel feed", "retry now", "discarded 0 queued deliveries"} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit trail lacks %q under the operator: %s", want, joined)
		}
	}
}

// TestChannelStates: a paused channel refuses senders (they keep their
// messages); started again, it takes them. Operators only.
func TestChannelStates(t *testing.T) {
	dir := t.TempDir()
	data := []string{"--data", filepath.Join(dir, "d")}
	n := startServe(t, dir, data...)
	tok, _, _ := run(t, dir, append([]string{"token", "create", "--role", "integration"}, data...)...)
	tok = strings.TrimSpace(tok)
	msg, _ := filepath.Abs(filepath.Join("testdata", "synthetic-adt.hl7"))
	state := func() string {
		_, body := get(t, n.url+"/api/channels", tok)
		var chans []struct{ Name, State string }
		json.Unmarshal([]byte(body), &chans)
		return chans[0].State
	}
	if code, body := post(t, n.url+"/api/channels/default/pause", tok, ""); code != 200 || state() != "paused" {
		t.Fatalf("pause: %d %s, state %s", code, body, state())
	}
	if out, _, code := run(t, dir, "send", "--to", n.mllp, "--timeout", "2s", msg); code == 0 || strings.Contains(out, "\tAA") {
		t.Fatalf("a paused channel took a message: %s", out)
	}
	if code, _ := post(t, n.url+"/api/channels/default/start", tok, ""); code != 200 || state() != "started" {
		t.Fatalf("start: %d, state %s", code, state())
	}
	if out, _, code := run(t, dir, "send", "--to", n.mllp, msg); code != 0 || !strings.Contains(out, "\tAA") {
		t.Fatalf("started channel: %s", out)
	}
	if code, _ := post(t, n.url+"/api/channels/nope/stop", tok, ""); code != 404 {
		t.Fatalf("unknown channel: %d", code)
	}
	clin, _, _ := run(t, dir, append([]string{"token", "create", "--role", "clinician"}, data...)...)
	if code, _ := post(t, n.url+"/api/channels/default/stop", strings.TrimSpace(clin), ""); code != 403 {
		t.Fatalf("clinician stop: %d", code)
	}
}
