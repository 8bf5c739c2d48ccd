package convert

import (
	"bufio"
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
	"github.com/concord-health/concord/mllp"
)

// outboundPeerScript reads one message on stdin with python-hl7 (the
// library of Debian's python3-hl7, the LIS stand-in of issue 6), builds
// its AA acknowledgment, and prints what it read as JSON.
const outboundPeerScript = `
import hl7, json, sys
m = hl7.parse(sys.stdin.read())
def get(seg, f, c=1):
    if not any(str(s[0]) == seg for s in m):
        return ""
    return str(m.extract_field(seg, 1, f, 1, c))
print(json.dumps({"segments": len(m), "type": get("MSH", 9, 1), "trigger": get("MSH", 9, 2),
    "control": get("MSH", 10), "pid3": get("PID", 3, 1), "orc2": get("ORC", 2, 1),
    "ack": str(m.create_ack("AA").segment("MSA"))}))
`

// outboundPython returns a python3 that has the hl7 module, or "".
func outboundPython() string {
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if path, err := exec.LookPath(p); err == nil && exec.Command(path, "-c", "import hl7").Run() == nil {
			return path
		}
	}
	return ""
}

// TestOutboundPythonHL7 has an independent HL7 v2 implementation,
// python-hl7, read every golden message: it must see the same segments,
// message type, control ID, patient and placer numbers as hl7v2, and
// acknowledge it. It is skipped when python3-hl7 is not installed.
func TestOutboundPythonHL7(t *testing.T) {
	py := outboundPython()
	if py == "" {
		t.Skip("python3 with the hl7 module (Debian python3-hl7) is not installed")
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "outbound", "*.hl7"))
	if len(files) == 0 {
		t.Fatal("no golden messages")
	}
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		msg := bytes.ReplaceAll(text, []byte("\n"), []byte("\r"))
		m, err := hl7v2.Parse(msg)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		cmd := exec.Command(py, "-c", outboundPeerScript)
		cmd.Stdin = bytes.NewReader(bytes.TrimRight(msg, "\r"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: python-hl7: %v\n%s", file, err, out)
			continue
		}
		var got struct {
			Segments                                int
			Type, Trigger, Control, PID3, ORC2, Ack string
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: %v: %s", file, err, out)
		}
		code, trigger, _ := m.MessageType()
		want := struct {
			Segments                                int
			Type, Trigger, Control, PID3, ORC2, Ack string
		}{m.Len(), code, trigger, m.ControlID(), m.Get("PID-3.1"), m.Get("ORC-2.1"), "MSA|AA|" + m.ControlID()}
		if got != want {
			t.Errorf("%s: python-hl7 read %+v, hl7v2 %+v", file, got, want)
		}
	}
}

// outboundPeerServer is an MLLP server written with python-hl7's
// asyncio support: it parses each message and answers AA. It prints its
// port, then serves until stdin closes.
const outboundPeerServer = `
import asyncio, sys, hl7
from hl7.mllp import start_hl7_server

async def handle(reader, writer):
    try:
        while not writer.is_closing():
            msg = await reader.readmessage()
            writer.writemessage(msg.create_ack("AA"))
            await writer.drain()
    except asyncio.IncompleteReadError:
        pass
    finally:
        writer.close()

async def main():
    server = await start_hl7_server(handle, host="127.0.0.1", port=0)
    print(server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()

asyncio.run(main())
`

// TestOutboundPythonMLLP delivers every golden message over MLLP, with
// Concord's MLLP client, to a python-hl7 server standing in for the LIS
// (as issue 6's end-to-end test will): each is parsed there and answered
// AA with its control ID. Skipped when python3-hl7 is not installed.
func TestOutboundPythonMLLP(t *testing.T) {
	py := outboundPython()
	if py == "" {
		t.Skip("python3 with the hl7 module (Debian python3-hl7) is not installed")
	}
	cmd := exec.Command(py, "-c", outboundPeerServer)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Logf("python-hl7 server: %v %s", err, stderr.String())
		}
	}()
	port, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("python-hl7 server did not start: %v %s", err, stderr.String())
	}
	client := &mllp.Client{Addr: "127.0.0.1:" + strings.TrimSpace(port), DialTimeout: 5 * time.Second, AckTimeout: 10 * time.Second}
	defer client.Close()
	files, _ := filepath.Glob(filepath.Join("testdata", "outbound", "*.hl7"))
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		msg := bytes.ReplaceAll(text, []byte("\n"), []byte("\r"))
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		ack, err := client.Send(ctx, msg)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v (%s)", file, err, stderr.String())
		}
		a, err := hl7v2.Parse(ack)
		if err != nil {
			t.Fatalf("%s: the answer does not parse: %v", file, err)
		}
		m, _ := hl7v2.Parse(msg)
		if a.Get("MSA-1") != "AA" || a.Get("MSA-2") != m.ControlID() {
			t.Errorf("%s: answered %q", file, a.Get("MSA"))
		}
	}
}
