package fhirpath

import "testing"

func TestTemporalParse(t *testing.T) {
	for _, s := range []string{"2012", "2012-04", "2012-04-15", "2012-04-15T10", "2012-04-15T10:30", "2012-04-15T10:30:31",
		"2012-04-15T10:30:31.123", "2012-04-15T10:30:31.123Z", "2012-04-15T10:30:31.123+10:00", "2012-04-15T10:30-05:30", "2015T"} {
		v, ok := parseDateTimeText(s)
		if !ok {
			t.Errorf("%s: not a date-time", s)
			continue
		}
		want := s
		if s == "2015T" {
			want = "2015"
		}
		if got := v.format(); got != want {
			t.Errorf("%s formats as %s", s, got)
		}
	}
	for _, s := range []string{"12", "2012-13", "2012-02-30", "2012-04-15T25:00", "2012-04-15T10:61", "2012-04T10:00", "2012-04-15T10:30:31+1000", "2012-04-15X"} {
		if _, ok := parseDateTimeText(s); ok {
			t.Errorf("%s parsed", s)
		}
	}
	if v, ok := parseTimeText("14:30:14.5"); !ok || v.format() != "14:30:14.500" || v.prec != PrecMillisecond {
		t.Errorf("time %+v %v", v, ok)
	}
	if _, ok := parseDateText("2012-04-15T10:00"); ok {
		t.Error("a date-time parsed as a date")
	}
}

// TestTemporalCompare follows FHIRPath 2.0 section 6.2: fields compared
// from the year down; if one value stops before they differ the answer is
// unknown; seconds and fractions are one precision; time zones are
// normalised.
func TestTemporalCompare(t *testing.T) {
	dt := func(s string) temporal {
		v, ok := parseDateTimeText(s)
		if !ok {
			if v, ok = parseTimeText(s); !ok {
				t.Fatalf("%s", s)
			}
		}
		return v
	}
	for _, c := range []struct {
		a, b string
		cmp  int
		ok   bool
	}{
		{"2012", "2012-01", 0, false},
		{"2012-01-01", "2012-01-02", -1, true},
		{"2012-01", "2012-02-15", -1, true},
		{"2013", "2012-02-15", 1, true},
		{"2012-01-01T10:00Z", "2012-01-01T12:00+02:00", 0, true},
		{"2012-01-01T10:00:00Z", "2012-01-01T10:00:01+00:00", -1, true},
		{"2012-04-15T15:00:00Z", "2012-04-15T10:00:00", 0, false},
		{"2012-01-01T10:00:00", "2012-01-01T10:00:00.000", 0, true},
		{"2012-01-01T10:00:00.001", "2012-01-01T10:00:00", 1, true},
		{"10:30", "10:30:00", 0, false},
		{"10:30", "10:31:00", -1, true},
		{"23:00", "09:00", 1, true},
	} {
		cmp, ok := compareTemporal(dt(c.a), dt(c.b))
		if cmp != c.cmp || ok != c.ok {
			t.Errorf("%s vs %s: %d %v, want %d %v", c.a, c.b, cmp, ok, c.cmp, c.ok)
		}
	}
}
