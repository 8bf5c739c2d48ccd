package convert

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/concord-health/concord/hl7v2"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGolden converts every synthetic testdata/*.hl7 and compares the
// Bundle with testdata/*.fhir.json (rewritten with -update). Each Bundle
// must also validate and import, twice, storing nothing the second time;
// and every registered message type must have a golden message.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.hl7"))
	if err != nil || len(files) == 0 {
		t.Fatal("no testdata/*.hl7")
	}
	ctx, im, _ := newImporter(t)
	covered := map[string]bool{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".hl7")
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := hl7v2.Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		res, err := ToFHIR(context.Background(), m, Options{MessageID: "golden-" + name,
			Received: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		covered[res.MessageType] = true
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, res.Bundle, "", "  "); err != nil {
			t.Fatal(err)
		}
		pretty.WriteByte('\n')
		golden := strings.TrimSuffix(f, ".hl7") + ".fhir.json"
		if *updateGolden {
			if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%s: %v (run with -update)", name, err)
		}
		if !bytes.Equal(pretty.Bytes(), want) {
			t.Errorf("%s: the Bundle differs from %s (run with -update after checking the change):\n%s", name, golden, pretty.String())
		}
		validateBundle(t, name, res.Bundle)
		if _, err := im.Bundle(ctx, res.Bundle); err != nil {
			t.Errorf("%s: the store refused it: %v", name, err)
			continue
		}
		again, err := im.Bundle(ctx, res.Bundle)
		if err != nil || again.Created != 0 || again.Updated != 0 {
			t.Errorf("%s: replay %+v %v", name, again, err)
		}
	}
	for _, typ := range Supported() {
		if !covered[typ] {
			t.Errorf("no golden message of type %s", typ)
		}
	}
}
