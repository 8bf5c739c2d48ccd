package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/store/sqlite"
)

// TestCheckpointer: the writer's commits do not checkpoint, the
// background checkpointer does: what is written reaches the database file
// shortly after, with no further writes.
func TestCheckpointer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	// Synthetic resources, no real data: about 2 MiB of new pages.
	body := []byte(fmt.Sprintf(`{"resourceType":"Basic","note":%q}`, make([]byte, 2000)))
	for i := 0; i < 1000; i++ {
		r := &concord.Resource{Type: "Basic", ID: fmt.Sprintf("b%d", i), Version: 1, LastUpdated: time.Now(), Content: body}
		if err := s.Update(context.Background(), func(tx concord.Tx) error { return tx.PutResource(context.Background(), r) }); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for size() < before+2<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("the database file stayed at %d bytes (%d before): nothing was checkpointed", size(), before)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
