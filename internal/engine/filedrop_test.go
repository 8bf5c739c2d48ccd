package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concord-health/concord"
)

// TestFileDrop: files are taken once settled; a file whose messages were
// all accepted goes to processed/, one holding a refused message to
// error/; every message is stored, the refused one as errored.
func TestFileDrop(t *testing.T) {
	eng, st := runEngineWith(t, Channel{Name: "lab"})
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		eng.RunFileDrop(ctx, FileDrop{Channel: "lab", Dir: dir, Pattern: "*.hl7", Poll: 20 * time.Millisecond})
		close(done)
	}()
	defer func() { cancel(); <-done }()

	os.WriteFile(filepath.Join(dir, "good.hl7"), []byte(labMessage(1)+"\n"+labMessage(2)), 0o600)
	os.WriteFile(filepath.Join(dir, "mixed.hl7"), []byte(labMessage(3)+"\n"+strings.Replace(labMessage(6), "LAB-006", "", 1)), 0o600)
	os.WriteFile(filepath.Join(dir, "skip.txt"), []byte(labMessage(4)), 0o600)
	moved := func(sub, name string) bool {
		m, _ := filepath.Glob(filepath.Join(dir, sub, "*-"+name))
		return len(m) == 1
	}
	waitFor(t, "both files taken", func() bool { return moved(DropProcessed, "good.hl7") && moved(DropError, "mixed.hl7") })
	if _, err := os.Stat(filepath.Join(dir, "skip.txt")); err != nil {
		t.Fatal("a file not matching the pattern was taken")
	}
	bg := context.Background()
	_, received, _ := st.Messages(bg, concord.MessageFilter{Channel: "lab", Status: concord.MessageReceived})
	_, errored, _ := st.Messages(bg, concord.MessageFilter{Channel: "lab", Status: concord.MessageErrored})
	if received != 3 || errored != 1 {
		t.Fatalf("stored %d received and %d errored, want 3 and 1", received, errored)
	}
	// The same file dropped again (as after a crash before the move) is
	// taken again, but its messages count as duplicates.
	os.WriteFile(filepath.Join(dir, "again.hl7"), []byte(labMessage(1)), 0o600)
	waitFor(t, "the repeated file taken", func() bool { return moved(DropProcessed, "again.hl7") })
	if _, dups, _ := st.Messages(bg, concord.MessageFilter{Channel: "lab", Status: concord.MessageDuplicate}); dups != 1 {
		t.Fatalf("%d duplicates, want 1", dups)
	}
	// A paused channel leaves its files alone.
	if err := eng.SetState(bg, "lab", concord.ChannelPaused, concord.AuditRecord{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * stateTTL)
	os.WriteFile(filepath.Join(dir, "later.hl7"), []byte(labMessage(5)), 0o600)
	time.Sleep(300 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(dir, "later.hl7")); err != nil {
		t.Fatal("a paused channel took a file")
	}
}

// TestFileDropStuck: a file whose messages are stored but that cannot be
// moved away is not stored again at every look.
func TestFileDropStuck(t *testing.T) {
	eng, st := runEngineWith(t, Channel{Name: "lab"})
	dir := t.TempDir()
	// processed/ is a plain file: nothing can be moved into it.
	os.WriteFile(filepath.Join(dir, DropProcessed), []byte("in the way"), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		eng.RunFileDrop(ctx, FileDrop{Channel: "lab", Dir: dir, Pattern: "*.hl7", Poll: 10 * time.Millisecond})
		close(done)
	}()
	defer func() { cancel(); <-done }()
	os.WriteFile(filepath.Join(dir, "one.hl7"), []byte(labMessage(1)), 0o600)
	bg := context.Background()
	waitFor(t, "the message stored", func() bool {
		_, n, _ := st.Messages(bg, concord.MessageFilter{Channel: "lab"})
		return n == 1
	})
	time.Sleep(300 * time.Millisecond) // thirty more looks
	if _, n, _ := st.Messages(bg, concord.MessageFilter{Channel: "lab"}); n != 1 {
		t.Fatalf("a file that could not be moved was stored %d times", n)
	}
}
