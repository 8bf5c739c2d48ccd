package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/mllp"
)

const nodePeers = "../../test/interop/node"

// originalModeSamples returns the shared samples that get an accept
// acknowledgment (not those whose MSH-15 ER or NE asks for none), which
// is what these peers wait for.
func originalModeSamples(t *testing.T) []string {
	abs, _ := filepath.Abs(sampleInputs)
	files, _ := filepath.Glob(filepath.Join(abs, "*.hl7"))
	if len(files) == 0 {
		t.Skip("../shared absent")
	}
	var out []string
	for _, f := range files {
		if expectedAck(t, f) != "" {
			out = append(out, f)
		}
	}
	return out
}

func needNodePeers(t *testing.T) string {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	if _, err := os.Stat(filepath.Join(nodePeers, "node_modules", "node-hl7-server")); err != nil {
		t.Skipf("node peers not installed (npm ci in %s)", nodePeers)
	}
	return node
}

// TestNodeHL7ClientInterop sends the samples to the default channel with
// node-hl7-client 3.2.0; the channel only stores and acknowledges
// (default_fhir off), as this tests the MLLP exchange, not the conversion.
func TestNodeHL7ClientInterop(t *testing.T) {
	node := needNodePeers(t)
	files := originalModeSamples(t)
	dir := t.TempDir()
	n := startServe(t, dir, "--data", filepath.Join(dir, "d"), "--duplicate-window", "0", "--default-fhir=false")
	host, port, _ := strings.Cut(n.mllp, ":")
	script, _ := filepath.Abs(filepath.Join(nodePeers, "send.js"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{script, host, port}, files...)...)
	cmd.Dir = nodePeers
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node send.js: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(files) {
		t.Fatalf("%d acknowledgments for %d messages:\n%s", len(lines), len(files), out)
	}
	refused := []string{}
	for i, l := range lines {
		parts := strings.Split(l, "\t")
		if len(parts) == 3 && parts[1] == "PEER-REFUSED" {
			refused = append(refused, filepath.Base(files[i])+": "+parts[2])
			continue
		}
		raw, _ := os.ReadFile(files[i])
		m, _ := hl7v2.Parse(raw)
		want := expectedAck(t, files[i])
		if len(parts) != 3 || parts[1] != want || parts[2] != m.ControlID() {
			t.Errorf("%s: %q, want %s for %s", filepath.Base(files[i]), l, want, m.ControlID())
		}
	}
	// node-hl7-client 3.2.0 refuses to build ADT04-23, whose fields hold the
	// text "MSH" ("Multiple MSH segments found"); Concord parses it (and
	// mllp_send delivers it), so only the peer's own refusal is allowed.
	if len(refused) != 1 || !strings.HasPrefix(refused[0], "ADT04-23.hl7: Multiple MSH segments") {
		t.Errorf("node-hl7-client refused: %v", refused)
	}
	t.Logf("node-hl7-client sent %d samples, each acknowledged as expected; it could not build %v", len(files)-len(refused), refused)
}

// runPeerServer starts a peer MLLP receiver that prints "listening PORT"
// and then one received control ID per line; it returns the address and
// a channel of received control IDs.
func runPeerServer(t *testing.T, name string, args ...string) (string, <-chan string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(name, append(args, fmt.Sprint(port))...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ids := make(chan string, 1024)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "listening") {
				close(ready)
				continue
			}
			ids <- strings.TrimSpace(sc.Text())
		}
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not start", name)
	}
	return fmt.Sprintf("127.0.0.1:%d", port), ids
}

// sendToPeer delivers the samples with Concord's MLLP client and checks
// each acknowledgment is AA for the right control ID, and that the peer
// received each message. With freshConn every message goes on a new
// connection.
func sendToPeer(t *testing.T, addr string, ids <-chan string, files []string, freshConn bool) {
	c := &mllp.Client{Addr: addr, AckTimeout: 10 * time.Second}
	defer func() { c.Close() }()
	for _, f := range files {
		if freshConn {
			c.Close()
			c = &mllp.Client{Addr: addr, AckTimeout: 10 * time.Second}
		}
		raw, _ := os.ReadFile(f)
		b, err := hl7v2.SplitBatch(raw) // CR between segments, no byte-order mark
		if err != nil || len(b.Messages) != 1 {
			t.Fatalf("%s: %v", f, err)
		}
		msg := b.Messages[0]
		ack, err := c.Send(context.Background(), msg)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		a, err := hl7v2.Parse(ack)
		if err != nil || a.Get("MSA-1") != "AA" || a.Get("MSA-2") != mllp.ControlID(msg) {
			t.Fatalf("%s: acknowledgment %q", filepath.Base(f), ack)
		}
		select {
		case got := <-ids:
			if got != mllp.ControlID(msg) {
				t.Fatalf("%s: peer received %q", filepath.Base(f), got)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: peer did not report the message", filepath.Base(f))
		}
	}
}

// TestNodeHL7ServerInterop: Concord's MLLP client delivers the samples to
// node-hl7-server 2.5.0 and reads its acknowledgments.
func TestNodeHL7ServerInterop(t *testing.T) {
	node := needNodePeers(t)
	files := originalModeSamples(t)
	script, _ := filepath.Abs(filepath.Join(nodePeers, "server.js"))
	// Like node-hl7-client, node-hl7-server splits a message on the text
	// "MSH": ADT04-23, whose fields hold that text, reaches its handler as
	// three messages, two of them empty (it still acknowledges the real
	// one). It is left out here; mllp_send and python-hl7 receive it whole.
	kept := files[:0]
	for _, f := range files {
		if filepath.Base(f) != "ADT04-23.hl7" {
			kept = append(kept, f)
		}
	}
	files = kept
	addr, ids := runPeerServer(t, node, script)
	// node-hl7-server 2.5.0 appends every frame received on a connection to
	// one buffer that it never clears, so the second message on a
	// connection is read as the first again: send each on its own
	// connection, as MLLP senders can be configured to.
	sendToPeer(t, addr, ids, files, true)
	t.Logf("delivered %d samples to node-hl7-server", len(files))
}

// TestPythonHL7ServerInterop: Concord's MLLP client delivers the samples
// to python-hl7's asyncio MLLP server (Debian python3-hl7).
func TestPythonHL7ServerInterop(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import hl7.mllp").Run(); err != nil {
		t.Skip("python3-hl7 not installed")
	}
	files := originalModeSamples(t)
	script, _ := filepath.Abs("../../test/interop/python/server.py")
	addr, ids := runPeerServer(t, "/usr/bin/python3", script)
	sendToPeer(t, addr, ids, files, false)
	t.Logf("delivered %d samples to python-hl7's MLLP server", len(files))
}
