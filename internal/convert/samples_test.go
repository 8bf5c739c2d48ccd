package convert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhirpath"
	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/internal/fhirapi"
	"github.com/concord-health/concord/internal/store/postgres"
	"github.com/concord-health/concord/internal/store/sqlite"
	"github.com/concord-health/concord/internal/store/storetest"
	"github.com/concord-health/concord/internal/validate"
)

// samplesDir is the shared FHIR-Converter samples folder (synthetic
// messages), relative to this package.
const samplesDir = "../../../shared/data/hl7v2/fhir-converter"

// sampleInputs returns the shared sample messages by file name, or skips
// when ../shared is absent.
func sampleInputs(t testing.TB) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(samplesDir, "input", "*.hl7"))
	if len(files) == 0 {
		t.Skip("shared HL7 v2 samples not present")
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

func sortedNames(m map[string][]byte) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// newImporter opens a fresh SQLite store and an importer acting as an
// administrator, as the engine's fhir destination will.
func newImporter(t testing.TB) (context.Context, *fhirapi.Importer, concord.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return importerOver(t, st)
}

// importerOver returns an importer over st acting as an administrator.
func importerOver(t testing.TB, st concord.Store) (context.Context, *fhirapi.Importer, concord.Store) {
	t.Helper()
	scope, err := concord.ParseScope("system/*.cruds")
	if err != nil {
		t.Fatal(err)
	}
	p := &concord.Principal{Actor: "convert-test", Role: concord.RoleAdmin, Scopes: []concord.Scope{scope}}
	ctx := concord.WithAuditTemplate(concord.WithPrincipal(context.Background(), p),
		concord.AuditRecord{Actor: p.Actor, Role: string(p.Role), Address: "test"})
	return ctx, fhirapi.NewImporter(st, fhirapi.Options{}), st
}

// validateBundle validates every resource of a converted Bundle.
func validateBundle(t testing.TB, name string, body []byte) {
	t.Helper()
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("%s: the Bundle is not JSON: %v", name, err)
	}
	for i, e := range b.Entry {
		doc, err := fhirpath.ParseJSON(e.Resource)
		if err != nil {
			t.Fatalf("%s entry %d: %v", name, i, err)
		}
		if issues := validate.Resource(context.Background(), doc); validate.HasErrors(issues) {
			t.Errorf("%s entry %d is not valid: %+v\n%s", name, i, issues, e.Resource)
		}
	}
}

// TestSamplesConvertAndImport converts every shared sample message: the
// types this package supports must convert to valid resources that the
// store accepts as a transaction, and importing the same conversion again
// must store nothing; the other types must be refused as unsupported.
// Then the whole folder is sent a second time: nothing new is created.
func TestSamplesConvertAndImport(t *testing.T) {
	ctx, im, _ := newImporter(t)
	testSamples(t, ctx, im)
}

// TestSamplesConvertAndImportPostgres is the same on PostgreSQL (when
// CONCORD_TEST_POSTGRES holds a URL).
func TestSamplesConvertAndImportPostgres(t *testing.T) {
	sampleInputs(t)
	st, err := postgres.Open(context.Background(), storetest.PostgresURL(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx, im, _ := importerOver(t, st)
	testSamples(t, ctx, im)
}

func testSamples(t *testing.T, ctx context.Context, im *fhirapi.Importer) {
	inputs := sampleInputs(t)
	var converted, accepted, unsupported, resources int
	bundles := map[string][]byte{}
	perType := map[string]*[2]int{} // message type → converted, accepted
	for _, name := range sortedNames(inputs) {
		m, err := hl7v2.Parse(inputs[name])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		res, err := ToFHIR(ctx, m, Options{MessageID: "msg-" + name})
		if err != nil {
			if concord.ErrorCode(err) == concord.EUNSUPPORTED && strings.HasPrefix(concord.ErrorMessage(err), "unsupported message type ") {
				unsupported++
				continue
			}
			t.Errorf("%s: %v", name, err)
			continue
		}
		converted++
		resources += res.Resources
		tally := perType[res.MessageType]
		if tally == nil {
			tally = &[2]int{}
			perType[res.MessageType] = tally
		}
		tally[0]++
		validateBundle(t, name, res.Bundle)
		first, err := im.Bundle(ctx, res.Bundle)
		if err != nil {
			t.Errorf("%s: the store refused the transaction: %v", name, err)
			continue
		}
		if first.Created+first.Updated == 0 || first.Failed != 0 {
			t.Errorf("%s: first import %+v", name, first)
		}
		again, err := im.Bundle(ctx, res.Bundle)
		if err != nil {
			t.Fatalf("%s: second import: %v", name, err)
		}
		if again.Created != 0 || again.Updated != 0 {
			t.Errorf("%s: importing again stored something: %+v", name, again)
		}
		accepted++
		tally[1]++
		bundles[name] = res.Bundle
	}
	var second fhirapi.ImportResult
	for _, name := range sortedNames(bundles) {
		r, err := im.Bundle(ctx, bundles[name])
		if err != nil {
			t.Fatalf("%s: second pass: %v", name, err)
		}
		second.Add(r)
	}
	if second.Created != 0 {
		t.Errorf("sending the folder again created %d resources", second.Created)
	}
	types := make([]string, 0, len(perType))
	for k := range perType {
		types = append(types, k)
	}
	sort.Strings(types)
	var byType strings.Builder
	for _, k := range types {
		fmt.Fprintf(&byType, " %s %d/%d", k, perType[k][1], perType[k][0])
	}
	t.Logf("accepted/converted by type:%s", byType.String())
	t.Logf("samples: %d converted (%d resources), %d accepted by the store, %d unsupported; second pass %+v",
		converted, resources, accepted, unsupported, second)
	if converted == 0 || accepted != converted {
		t.Errorf("converted %d, accepted %d", converted, accepted)
	}
}

// TestUnsupportedType checks the answer to a message type with no
// converter.
func TestUnsupportedType(t *testing.T) {
	m, err := hl7v2.Parse([]byte("MSH|^~\\&|A|B|C|D|20260101||ZZZ^Z01|1|P|2.5\rPID|1||123\r"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ToFHIR(context.Background(), m, Options{})
	if concord.ErrorCode(err) != concord.EUNSUPPORTED || concord.ErrorMessage(err) != "unsupported message type ZZZ^Z01" {
		t.Fatalf("got %v", err)
	}
	var ce *concord.Error
	if !errors.As(err, &ce) {
		t.Fatalf("not a concord error: %T", err)
	}
}
