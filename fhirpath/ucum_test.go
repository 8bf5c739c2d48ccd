package fhirpath

import "testing"

// TestUCUM: the units of FHIR's vital signs profiles and of common
// laboratory results convert and compare (FHIRPath 2.0 section 6.1.5
// equality of quantities in different units).
func TestUCUM(t *testing.T) {
	for expr, want := range map[string]string{
		"70 'kg' = 70000 'g'":                   "[true]",
		"154 '[lb_av]' > 69.8 'kg'":             "[true]",
		"(1 '[lb_av]').toQuantity('g')":         `[{"code":"g","system":"http://unitsofmeasure.org","unit":"g","value":453.59237}]`,
		"180 'cm' = 1.8 'm'":                    "[true]",
		"70.86614173 '[in_i]' ~ 180 'cm'":       "[true]",
		"37 'Cel' ~ 98.6 '[degF]'":              "[true]",
		"(100 'Cel').toQuantity('[degF]')":      `[{"code":"[degF]","system":"http://unitsofmeasure.org","unit":"[degF]","value":212}]`,
		"120 'mm[Hg]' > 15 'kPa'":               "[true]",
		"72 '/min' = 1.2 '/s'":                  "[true]",
		"72 '{beats}/min' = 72 '/min'":          "[true]",
		"98 '%' = 0.98 '1'":                     "[true]",
		"24.5 'kg/m2' = 2.45 'g/cm2'":           "[true]",
		"14 'g/dL' = 140 'g/L'":                 "[true]",
		"180 'mg/dL' = 1.8 'g/L'":               "[true]",
		"5.5 'mmol/L' = 5500 'umol/L'":          "[true]",
		"7.5 '10*3/uL' = 7500000 '/mL'":         "[true]",
		"1 'mmol/L' = 18 'mg/dL'":               "[]", // needs a molar mass: not comparable
		"2 'h' = 120 'min' and 1 'wk' = 7 'd'":  "[true]",
		"1 year = 1 'a'":                        "[]", // calendar year vs UCUM year
		"1 year ~ 1 'a'":                        "[true]",
		"1 week = 1 'wk' and 3 days = 72 hours": "[true]",
	} {
		if got := evalJSON(t, expr, syntheticPatient); got != want {
			t.Errorf("%s = %s, want %s", expr, got, want)
		}
	}
}
