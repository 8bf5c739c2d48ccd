package convert

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/concord-health/concord/hl7v2"
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
