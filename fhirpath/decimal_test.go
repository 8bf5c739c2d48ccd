package fhirpath

import "testing"

func TestDecimal(t *testing.T) {
	d := func(s string) decimal {
		t.Helper()
		v, err := parseDecimal(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		return v
	}
	for in, want := range map[string]string{"1.50": "1.50", "-0.5": "-0.5", "0": "0", "007": "7", "1e3": "1000", "1.5E-2": "0.015", "-0.000": "0.000"} {
		if got := d(in).String(); got != want {
			t.Errorf("%s reads as %s, want %s", in, got, want)
		}
	}
	for _, bad := range []string{"", ".5", "1..2", "abc", "1e", "12345678901234567890"} {
		if _, err := parseDecimal(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	type op func(a, b decimal) (decimal, error)
	for _, c := range []struct {
		a, b string
		f    op
		want string
	}{
		{"0.1", "0.2", decimal.add, "0.3"},
		{"1.50", "1", decimal.add, "2.50"},
		{"1", "0.001", decimal.sub, "0.999"},
		{"1.5", "1.5", decimal.mul, "2.25"},
		{"1.0", "3", decimal.div, "0.33333333"},
		{"2", "3", decimal.div, "0.66666667"},
		{"2", "4", decimal.div, "0.5"},
		{"10", "2", decimal.div, "5"},
		{"-1", "3", decimal.div, "-0.33333333"},
		{"12.5", "0.5", decimal.div, "25"},
	} {
		got, err := c.f(d(c.a), d(c.b))
		if err != nil || got.String() != c.want {
			t.Errorf("%s op %s = %s %v, want %s", c.a, c.b, got, err, c.want)
		}
	}
	if d("1.0").cmp(d("1.00")) != 0 || d("1.01").cmp(d("1.1")) != -1 || d("-2").cmp(d("-3")) != 1 {
		t.Error("cmp")
	}
	for in, want := range map[[2]string]string{{"1.5", "0"}: "2", {"-1.5", "0"}: "-2", {"1.249", "2"}: "1.25", {"3.14159", "3"}: "3.142", {"2", "2"}: "2.00"} {
		var s int8
		if want != "" {
			s = int8(in[1][0] - '0')
		}
		if got := d(in[0]).round(s).String(); got != want {
			t.Errorf("round(%s, %d) = %s, want %s", in[0], s, got, want)
		}
	}
	if _, err := d("900000000000000000").mul(d("100")); err != errOverflow {
		t.Errorf("overflow not reported: %v", err)
	}
	if !d("2.000").isInteger() || d("2.5").isInteger() {
		t.Error("isInteger")
	}
}
