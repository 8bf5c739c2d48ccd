package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writePKI writes an ephemeral, synthetic certificate authority, a server
// certificate for 127.0.0.1 and client certificates with the given
// common names into dir, as PEM files named ca.pem, server.pem,
// server.key, <cn>.pem and <cn>.key.
func writePKI(t *testing.T, dir string, clients ...string) {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Synthetic Test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	write("ca.pem", "CERTIFICATE", caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) {
		key := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		name := cn
		if usage == x509.ExtKeyUsageServerAuth {
			name = "server"
		}
		write(name+".pem", "CERTIFICATE", der)
		write(name+".key", "EC PRIVATE KEY", kder)
	}
	issue(2, "synthetic-server", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	for i, cn := range clients {
		issue(int64(3+i), cn, x509.ExtKeyUsageClientAuth, nil)
	}
}

// TestChannelSources: an MLLP source over TLS that admits only allowed
// client certificates and answers after its destinations, a channel fed
// by another channel, the HTTP source and a file-drop directory — every
// message stored, delivered once and answered as the contract says.
func TestChannelSources(t *testing.T) {
	dir := t.TempDir()
	writePKI(t, dir, "registration", "intruder")
	tlsAddr := freePort(t)
	drop, outbox := filepath.Join(dir, "drop"), filepath.Join(dir, "outbox")
	os.MkdirAll(drop, 0o755)
	cfg := fmt.Sprintf(`channels:
  - name: inbound
    mllp: %q
    tls: {cert: server.pem, key: server.key, client_ca: ca.pem}
    allow: [127.0.0.0/8]
    allow_subjects: [registration]
    respond: destinations
    respond_timeout: 10s
    destinations:
      - {name: to-archive, channel: archive}
  - name: archive
    http: true
    file_drop: {dir: %q, pattern: "*.hl7", poll: 100ms}
    destinations:
      - {name: disk, file: %q}
`, tlsAddr, drop, outbox)
	os.WriteFile(filepath.Join(dir, "concord.yaml"), []byte(cfg), 0o600)
	data := filepath.Join(dir, "d")
	n := startServe(t, dir, "--data", data)
	msg, _ := filepath.Abs(filepath.Join("testdata", "synthetic-adt.hl7"))
	adt, _ := os.ReadFile(msg)

	// TLS with an allowed client certificate: AA once the message went
	// through the second channel to its file destination.
	o, e, code := run(t, dir, "send", "--to", tlsAddr, "--tls-ca", "ca.pem", "--tls-cert", "registration.pem", "--tls-key", "registration.key", msg)
	if code != 0 || !strings.Contains(o, "SYN-1\tAA") {
		t.Fatalf("send with an allowed certificate: %d %s %s\n%s", code, o, e, n.stderr)
	}
	// The answer waited for the inbound channel's destination, the
	// archive channel storing the message; the archive's own destination
	// writes the file after that.
	waitUntil(t, "the archive channel's file", func() bool {
		files, _ := filepath.Glob(filepath.Join(outbox, "archive-*.hl7"))
		return len(files) == 1
	})
	// A certificate from the same CA but not allowed, and no certificate.
	for _, args := range [][]string{
		{"--tls-ca", "ca.pem", "--tls-cert", "intruder.pem", "--tls-key", "intruder.key"},
		{"--tls-ca", "ca.pem"},
	} {
		o, _, code := run(t, dir, append(append([]string{"send", "--timeout", "3s", "--to", tlsAddr}, args...), msg)...)
		if code == 0 || strings.Contains(o, "\tAA") {
			t.Fatalf("send %v was accepted: %s", args, o)
		}
	}

	bearer, _, _ := run(t, dir, "token", "create", "--role", "integration", "--data", data)
	bearer = strings.TrimSpace(bearer)
	auditor, _, _ := run(t, dir, "token", "create", "--role", "auditor", "--data", data)
	url := n.url + "/api/channels/archive/messages"
	httpMsg := strings.Replace(string(adt), "SYN-1", "SYN-HTTP", 1)
	if st, _ := post(t, url, "", httpMsg); st != http.StatusUnauthorized {
		t.Fatalf("POST without a token: %d", st)
	}
	if st, _ := post(t, url, strings.TrimSpace(auditor), httpMsg); st != http.StatusForbidden {
		t.Fatalf("POST with an auditor token: %d", st)
	}
	if st, body := post(t, n.url+"/api/channels/inbound/messages", bearer, httpMsg); st != http.StatusNotFound {
		t.Fatalf("POST to a channel without http: %d %s", st, body)
	}
	st, body := post(t, url, bearer, httpMsg)
	if st != http.StatusOK || !strings.Contains(body, "MSA|AA|SYN-HTTP") {
		t.Fatalf("POST: %d %q", st, body)
	}
	req, _ := http.NewRequest("POST", url, strings.NewReader("PID|1||not a message"))
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ans struct {
		MessageID int64  `json:"message_id"`
		Status    string `json:"status"`
		AckCode   string `json:"ack_code"`
		Errors    []string
	}
	json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || ans.AckCode != "AR" || ans.Status != "rejected" || ans.MessageID == 0 || len(ans.Errors) == 0 {
		t.Fatalf("POST of garbage: %d %+v", resp.StatusCode, ans)
	}

	// A file with two messages, and one that does not match the pattern.
	two := strings.Replace(string(adt), "SYN-1", "SYN-F1", 1) + "\n" + strings.Replace(string(adt), "SYN-1", "SYN-F2", 1)
	os.WriteFile(filepath.Join(drop, "batch.hl7"), []byte(two), 0o600)
	os.WriteFile(filepath.Join(drop, "notes.txt"), []byte("not for Concord"), 0o600)
	waitUntil(t, "the dropped file to be taken", func() bool {
		m, _ := filepath.Glob(filepath.Join(drop, "processed", "*-batch.hl7"))
		return len(m) == 1
	})
	if _, err := os.Stat(filepath.Join(drop, "notes.txt")); err != nil {
		t.Fatalf("a file not matching the pattern was taken: %v", err)
	}
	waitUntil(t, "four messages in the outbox", func() bool {
		files, _ := filepath.Glob(filepath.Join(outbox, "archive-*.hl7"))
		return len(files) == 4
	})

	var list struct {
		Total    int
		Messages []struct {
			ControlID string `json:"control_id"`
			Peer      string
		}
	}
	_, body = get(t, n.url+"/api/messages?channel=archive&status=received", bearer)
	json.Unmarshal([]byte(body), &list)
	got := map[string]string{}
	for _, m := range list.Messages {
		got[m.ControlID] = m.Peer
	}
	if list.Total != 4 || got["SYN-1"] != "inbound" || got["SYN-F1"] != "batch.hl7" || got["SYN-F2"] != "batch.hl7" || got["SYN-HTTP"] == "" {
		t.Fatalf("archive channel messages: %s", body)
	}
	// The audit trail names who sent each message.
	o, _, _ = run(t, dir, "audit", "export", "--data", data)
	for _, who := range []string{"channel:inbound", "file:batch.hl7", "mllp:registration@127.0.0.1",
		`mllp connection refused: client certificate subject not allowed: \"intruder\"`, "mllp connection refused: mllp: TLS handshake"} {
		if !strings.Contains(o, who) {
			t.Errorf("audit export does not name %s", who)
		}
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestApplicationAckEndToEnd: an enhanced-mode sender gets CA at once and
// its application acknowledgment later, delivered over MLLP to the
// address its channel names (here a second Concord, which stores it).
func TestApplicationAckEndToEnd(t *testing.T) {
	dir := t.TempDir()
	back := startServe(t, t.TempDir(), "--data", filepath.Join(dir, "back"))
	addr := freePort(t)
	cfg := fmt.Sprintf("channels:\n  - name: orders\n    mllp: %q\n    application_ack: {mllp: %q, retry_initial: 50ms}\n", addr, back.mllp)
	os.WriteFile(filepath.Join(dir, "concord.yaml"), []byte(cfg), 0o600)
	startServe(t, dir, "--data", filepath.Join(dir, "d"))
	msg, _ := filepath.Abs(filepath.Join("testdata", "synthetic-adt.hl7"))
	adt, _ := os.ReadFile(msg)
	enh := strings.Replace(string(adt), "|SYN-1|P|2.5.1", "|SYN-ENH|P|2.5.1|||AL|AL", 1)
	f := filepath.Join(dir, "enh.hl7")
	os.WriteFile(f, []byte(enh), 0o600)
	if o, e, code := run(t, dir, "send", "--to", addr, f); code != 0 || !strings.Contains(o, "SYN-ENH\tCA") {
		t.Fatalf("send: %d %s %s", code, o, e)
	}
	bearer, _, _ := run(t, dir, "token", "create", "--role", "integration", "--data", filepath.Join(dir, "back"))
	bearer = strings.TrimSpace(bearer)
	waitUntil(t, "the application acknowledgment at the sender", func() bool {
		_, body := get(t, back.url+"/api/messages?type=ACK", bearer)
		return strings.Contains(body, `"total": 1`)
	})
	_, body := get(t, back.url+"/api/messages?type=ACK", bearer)
	var list struct {
		Messages []struct {
			ID     int64
			Status string
		}
	}
	json.Unmarshal([]byte(body), &list)
	_, body = get(t, fmt.Sprintf("%s/api/messages/%d", back.url, list.Messages[0].ID), bearer)
	if !strings.Contains(body, `MSA|AA|SYN-ENH`) || list.Messages[0].Status != "received" {
		t.Fatalf("application acknowledgment as stored by the sender: %s", body)
	}
}
