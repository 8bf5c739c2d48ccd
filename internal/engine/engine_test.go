package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/internal/store/sqlite"
	"github.com/concord-health/concord/mllp"
)

// A synthetic ADT message (no real patient).
const adt = "MSH|^~\\&|REG|North|EHR|Ward|20260102030405||ADT^A04^ADT_A01|REG-1|P|2.5.1\r" +
	"EVN|A04|20260102030405\rPID|1||MRN-77^^^North^MR||Synthetic^Pat||19900101|F\rPV1|1|O\r"

type env struct {
	t     *testing.T
	store concord.Store
	eng   *Engine
	now   time.Time
}

func newEnv(t *testing.T) *env {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, store: st, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	e.eng = New(Options{Store: st, Node: "node-1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return e.now }, DuplicateWindow: time.Hour})
	return e
}

func (e *env) receive(payload string) *hl7v2.Message {
	e.t.Helper()
	ack := e.eng.Receive(context.Background(), Inbound{Channel: DefaultChannel, Peer: "10.0.0.9", Payload: []byte(payload)})
	if ack == nil {
		return nil
	}
	m, err := hl7v2.Parse(ack)
	if err != nil {
		e.t.Fatalf("acknowledgment does not parse: %v\n%q", err, ack)
	}
	return m
}

func (e *env) last() *concord.Message {
	e.t.Helper()
	ms, _, err := e.store.Messages(context.Background(), concord.MessageFilter{Limit: 1})
	if err != nil || len(ms) == 0 {
		e.t.Fatalf("no stored message: %v", err)
	}
	m, err := e.store.Message(context.Background(), ms[0].ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func TestReceiveStoresThenAcknowledges(t *testing.T) {
	e := newEnv(t)
	ack := e.receive(adt)
	if ack.Get("MSA-1") != "AA" || ack.Get("MSA-2") != "REG-1" || ack.Get("MSH-5") != "REG" || ack.Get("MSH-4") != "node-1" ||
		ack.Get("MSH-9") != "ACK^A04^ACK" {
		t.Fatalf("ack %s", ack)
	}
	m := e.last()
	if m.Status != concord.MessageReceived || m.Type != "ADT" || m.Trigger != "A04" || m.Structure != "ADT_A01" ||
		m.ControlID != "REG-1" || m.Sender != "REG^North" || m.PatientID != "MRN-77" || m.Peer != "10.0.0.9" ||
		string(m.Raw) != adt || m.AckCode != "AA" || m.Version != "2.5.1" {
		t.Fatalf("stored %+v", m)
	}
	var audit []*concord.AuditRecord
	e.store.AuditRecords(context.Background(), concord.AuditFilter{}, func(r *concord.AuditRecord) error {
		audit = append(audit, r)
		return nil
	})
	if len(audit) != 1 || audit[0].Object != fmt.Sprintf("message/%d", m.ID) || audit[0].Patient != "MRN-77" ||
		audit[0].Actor != "mllp:10.0.0.9" || audit[0].Action != concord.AuditCreate {
		t.Fatalf("audit %+v", audit)
	}
}

func TestDuplicates(t *testing.T) {
	e := newEnv(t)
	e.receive(adt)
	if ack := e.receive(adt); ack.Get("MSA-1") != "AA" || ack.Get("MSA-2") != "REG-1" {
		t.Fatalf("duplicate ack %s", ack)
	}
	if m := e.last(); m.Status != concord.MessageDuplicate {
		t.Fatalf("second copy stored as %s", m.Status)
	}
	e.now = e.now.Add(2 * time.Hour)
	e.receive(adt)
	if m := e.last(); m.Status != concord.MessageReceived {
		t.Fatalf("copy after the window stored as %s", m.Status)
	}
	// Another sender may reuse the control ID.
	e.receive(strings.Replace(adt, "REG|North", "LAB|South", 1))
	if m := e.last(); m.Status != concord.MessageReceived {
		t.Fatalf("other sender's message stored as %s", m.Status)
	}
}

func TestBadInputIsRejectedAndKept(t *testing.T) {
	for name, in := range map[string]string{
		"garbage":        "\x00\x01binary garbage",
		"no MSH":         "PID|1||X\r",
		"bad encoding":   "MSH|^~|A|B\r",
		"bad segment ID": "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|CTL-9|P|2.5\rpid|1\r",
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			ack := e.receive(in)
			if ack.Get("MSA-1") != "AR" || ack.Get("ERR-3.3") != "HL70357" || ack.Get("ERR-3.1") == "" {
				t.Fatalf("ack %s", ack)
			}
			m := e.last()
			if m.Status != concord.MessageRejected || string(m.Raw) != in || m.Error == "" || m.AckCode != "AR" {
				t.Fatalf("stored %+v", m)
			}
			if name == "bad segment ID" && (ack.Get("MSA-2") != "CTL-9" || m.ControlID != "CTL-9") {
				t.Fatalf("control ID not recovered: %s / %q", ack.Get("MSA-2"), m.ControlID)
			}
		})
	}
}

func TestMissingControlID(t *testing.T) {
	e := newEnv(t)
	ack := e.receive(strings.Replace(adt, "|REG-1|", "||", 1))
	if ack.Get("MSA-1") != "AE" || ack.Get("ERR-2") != "MSH^1^10" || ack.Get("ERR-3.1") != "101" {
		t.Fatalf("ack %s", ack)
	}
	if m := e.last(); m.Status != concord.MessageErrored {
		t.Fatalf("stored as %s", m.Status)
	}
}

func TestEnhancedMode(t *testing.T) {
	withModes := func(accept string) string {
		return strings.Replace(adt, "|P|2.5.1\r", "|P|2.5.1|||"+accept+"|AL\r", 1)
	}
	e := newEnv(t)
	if ack := e.receive(withModes("AL")); ack == nil || ack.Get("MSA-1") != "CA" {
		t.Fatalf("AL: %v", ack)
	}
	e.now = e.now.Add(2 * time.Hour)
	if ack := e.receive(withModes("NE")); ack != nil {
		t.Fatalf("NE must send nothing: %s", ack)
	}
	e.now = e.now.Add(2 * time.Hour)
	if ack := e.receive(withModes("ER")); ack != nil {
		t.Fatalf("ER on success must send nothing: %s", ack)
	}
	if ack := e.receive(strings.Replace(withModes("ER"), "|REG-1|", "||", 1)); ack == nil || ack.Get("MSA-1") != "CE" {
		t.Fatalf("ER on error: %v", ack)
	}
	if m := e.last(); m.Status != concord.MessageErrored {
		t.Fatalf("stored as %s", m.Status)
	}
}

func TestStoreFailureAsksForResend(t *testing.T) {
	e := newEnv(t)
	e.store.Close()
	ack := e.receive(adt)
	if ack.Get("MSA-1") != "AE" || ack.Get("ERR-3.1") != "207" {
		t.Fatalf("ack %s", ack)
	}
}

func TestFramingErrorsAreRecorded(t *testing.T) {
	e := newEnv(t)
	c := &mllp.Conn{RemoteAddr: fakeAddr("192.0.2.4:5000")}
	e.eng.ConnError(DefaultChannel, c, fmt.Errorf("read: %w", mllp.ErrFrameTooLarge), 12)
	m := e.last()
	if m.Status != concord.MessageRejected || m.Peer != "192.0.2.4" || !strings.Contains(m.Error, "framing") {
		t.Fatalf("stored %+v", m)
	}
	before, _, _ := e.store.Messages(context.Background(), concord.MessageFilter{})
	e.eng.ConnError(DefaultChannel, c, errors.New("peer not allowed"), 0)
	if after, _, _ := e.store.Messages(context.Background(), concord.MessageFilter{}); len(after) != len(before) {
		t.Fatal("a non-framing connection error was stored as a message")
	}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

// TestSamples: every shared sample is stored with its type, trigger and
// control ID and acknowledged AA.
func TestSamples(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/data/hl7v2/fhir-converter/input/*.hl7")
	if len(files) == 0 {
		t.Skip("../shared absent")
	}
	e := newEnv(t)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want, err := hl7v2.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		ack := e.receive(string(data))
		code, trigger, _ := want.MessageType()
		m := e.last()
		if m.Type != code || m.Trigger != trigger || m.ControlID != want.ControlID() || m.Status != concord.MessageReceived {
			t.Errorf("%s: stored %s^%s %s %s (%s)", filepath.Base(f), m.Type, m.Trigger, m.ControlID, m.Status, m.Error)
		}
		switch {
		case ack == nil:
			// Enhanced mode: the sender asked for no accept acknowledgment.
			if a := want.AcceptAckType(); a != "NE" && a != "ER" {
				t.Errorf("%s: no acknowledgment, MSH-15 %q", filepath.Base(f), a)
			}
		case ack.Get("MSA-2") != want.ControlID():
			t.Errorf("%s: MSA-2 %q", filepath.Base(f), ack.Get("MSA-2"))
		case ack.Get("MSA-1") != "AA" && ack.Get("MSA-1") != "CA":
			t.Errorf("%s: %s (%s)", filepath.Base(f), ack.Get("MSA-1"), m.Error)
		}
		e.now = e.now.Add(2 * time.Hour) // samples reuse control IDs; keep them out of each other's window
	}
}

func TestRetention(t *testing.T) {
	e := newEnv(t)
	e.receive(adt) // received at e.now
	e.now = e.now.Add(10 * 24 * time.Hour)
	e.receive(strings.Replace(adt, "REG-1", "REG-2", 1))
	e.eng.opt.Retention = 5 * 24 * time.Hour
	n, err := e.eng.Prune(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	ms, _, _ := e.store.Messages(context.Background(), concord.MessageFilter{})
	for _, m := range ms {
		full, _ := e.store.Message(context.Background(), m.ID)
		if (len(full.Raw) == 0) != (m.ControlID == "REG-1") || full.Size != len(adt) {
			t.Errorf("%s: content %d bytes, size %d", m.ControlID, len(full.Raw), full.Size)
		}
	}
	var last *concord.AuditRecord
	e.store.AuditRecords(context.Background(), concord.AuditFilter{}, func(r *concord.AuditRecord) error { last = r; return nil })
	if last == nil || last.Actor != "system:retention" || !strings.Contains(last.Detail, "content of 1 messages") {
		t.Fatalf("retention not audited: %+v", last)
	}
	if n, _ := e.eng.Prune(context.Background()); n != 0 {
		t.Fatalf("second prune dropped %d", n)
	}
}
