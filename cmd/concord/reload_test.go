package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/concord-health/concord/internal/config"
)

// TestChannelReload: channels change without a restart — by
// POST /api/channels/reload and by SIGHUP — while other channels keep
// running; a bad configuration changes nothing; each reload is audited.
func TestChannelReload(t *testing.T) {
	dir := t.TempDir()
	p1, p2 := freePort(t), freePort(t)
	out1, out2 := filepath.Join(dir, "out1"), filepath.Join(dir, "out2")
	conf := filepath.Join(dir, "concord.yaml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(fmt.Sprintf("channels:\n  - {name: a, mllp: %q, destinations: [{name: d, file: %q}]}\n", p1, out1))
	data := filepath.Join(dir, "d")
	n := startServe(t, dir, "--data", data)
	msg, _ := filepath.Abs(filepath.Join("testdata", "synthetic-adt.hl7"))
	adt, _ := os.ReadFile(msg)
	sendAs := func(addr, id string) {
		t.Helper()
		f := filepath.Join(dir, id+".hl7")
		os.WriteFile(f, []byte(strings.Replace(string(adt), "SYN-1", id, 1)), 0o600)
		if o, e, code := run(t, dir, "send", "--to", addr, f); code != 0 || !strings.Contains(o, "\tAA") {
			t.Fatalf("send %s to %s: %d %s %s", id, addr, code, o, e)
		}
	}
	files := func(dir string) int {
		m, _ := filepath.Glob(filepath.Join(dir, "a-*.hl7"))
		return len(m)
	}
	sendAs(p1, "R-1")
	waitUntil(t, "R-1 in out1", func() bool { return files(out1) == 1 })

	admin, _, _ := run(t, dir, "token", "create", "--role", "admin", "--data", data)
	admin = strings.TrimSpace(admin)
	integ, _, _ := run(t, dir, "token", "create", "--role", "integration", "--data", data)
	if st, _ := post(t, n.url+"/api/channels/reload", strings.TrimSpace(integ), ""); st != http.StatusForbidden {
		t.Fatalf("reload with an integration token: %d", st)
	}

	// Change a's destination and add b.
	write(fmt.Sprintf("channels:\n  - {name: a, mllp: %q, destinations: [{name: d, file: %q}]}\n  - {name: b, mllp: %q}\n", p1, out2, p2))
	st, body := post(t, n.url+"/api/channels/reload", admin, "")
	var res struct{ Added, Removed, Changed []string }
	json.Unmarshal([]byte(body), &res)
	if st != http.StatusOK || strings.Join(res.Added, ",") != "b" || strings.Join(res.Changed, ",") != "a" || len(res.Removed) != 0 {
		t.Fatalf("reload: %d %s", st, body)
	}
	sendAs(p2, "R-2")
	sendAs(p1, "R-3")
	waitUntil(t, "R-3 in out2", func() bool { return files(out2) == 1 })
	if files(out1) != 1 {
		t.Fatalf("out1 holds %d files after its destination moved", files(out1))
	}
	_, body = get(t, n.url+"/api/status", admin)
	if !strings.Contains(body, `"mllp:b"`) {
		t.Fatalf("status does not list channel b's listener: %s", body)
	}

	// A bad configuration changes nothing.
	write("channels:\n  - {name: a, colour: red}\n")
	if st, body := post(t, n.url+"/api/channels/reload", admin, ""); st != http.StatusBadRequest || !strings.Contains(body, `unknown key \"colour\"`) {
		t.Fatalf("bad reload: %d %s", st, body)
	}
	sendAs(p2, "R-4")

	// SIGHUP: b removed; its port closes; a goes on.
	write(fmt.Sprintf("channels:\n  - {name: a, mllp: %q, destinations: [{name: d, file: %q}]}\n", p1, out2))
	n.cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, "channel b's port to close", func() bool {
		c, err := net.DialTimeout("tcp", p2, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	sendAs(p1, "R-5")
	waitUntil(t, "R-5 in out2", func() bool { return files(out2) == 2 })

	o, _, _ := run(t, dir, "audit", "export", "--data", data)
	if c := strings.Count(o, "config/channels"); c != 3 {
		t.Fatalf("audit export has %d reload records, want 3 (applied, refused, SIGHUP)", c)
	}
	if !strings.Contains(o, "signal:SIGHUP") {
		t.Fatal("the SIGHUP reload is not attributed")
	}
	n.stop(t)
}

// TestChannelDiff: a channel counts as changed only when its settings
// change, not when it moves in the file or is read again with the same
// TLS, file-drop and application-ack settings.
func TestChannelDiff(t *testing.T) {
	mk := func(line int, poll time.Duration) config.Channel {
		return config.Channel{Name: "a", MLLP: ":1", Line: line, TLS: &config.TLS{Cert: "c", Key: "k"},
			FileDrop: &config.FileDrop{Dir: "d", Poll: poll}, AppAck: &config.Destination{Name: "application-ack", MLLP: "h:1"}}
	}
	add, rm, ch := channelDiff([]config.Channel{mk(1, time.Second)}, []config.Channel{mk(7, time.Second)})
	if len(add)+len(rm)+len(ch) != 0 {
		t.Fatalf("unchanged channel reported: %v %v %v", add, rm, ch)
	}
	add, rm, ch = channelDiff([]config.Channel{mk(1, time.Second), {Name: "gone"}}, []config.Channel{mk(1, 2*time.Second), {Name: "new"}})
	if fmt.Sprint(add, rm, ch) != "[new] [gone] [a]" {
		t.Fatalf("diff %v %v %v", add, rm, ch)
	}
}
