// Package synthetic makes made-up interface messages for load tests and
// benchmarks; no real patient is in them.
package synthetic

import "strconv"

// AppendORU appends a synthetic ORU^R01 of about 1 KB (a lipid panel,
// four results) to b: sent by app, with control ID prefix+conn-i, for
// patient MRN-(i mod 1000). It does not allocate beyond growing b.
func AppendORU(b []byte, app, prefix string, conn, i int) []byte {
	n := func(v int) { b = strconv.AppendInt(b, int64(v), 10) }
	b = append(b, "MSH|^~\\&|"...)
	b = append(b, app...)
	b = append(b, "|North|EHR|Ward|20260102030405||ORU^R01^ORU_R01|"...)
	b = append(b, prefix...)
	n(conn)
	b = append(b, '-')
	n(i)
	b = append(b, "|P|2.5.1\rPID|1||MRN-"...)
	n(i % 1000)
	b = append(b, "^^^North^MR||Synthetic^Patient^Q||19800101|F|||1 Main St^^Springfield^IL^62701\r"+
		"PV1|1|O|CLINIC^1^1\rORC|RE|ORD-"...)
	n(i)
	b = append(b, "|FIL-"...)
	n(i)
	b = append(b, "\rOBR|1|ORD-"...)
	n(i)
	b = append(b, "|FIL-"...)
	n(i)
	b = append(b, "|24331-1^Lipid panel^LN|||20260102030405\r"+
		"OBX|1|NM|2093-3^Cholesterol [Mass/volume] in Serum or Plasma^LN||182|mg/dL^mg/dL^UCUM|<200|N|||F\r"+
		"OBX|2|NM|2571-8^Triglyceride [Mass/volume] in Serum or Plasma^LN||90|mg/dL^mg/dL^UCUM|<150|N|||F\r"+
		"OBX|3|NM|2085-9^HDL Cholesterol [Mass/volume] in Serum or Plasma^LN||62|mg/dL^mg/dL^UCUM|>40|N|||F\r"+
		"OBX|4|NM|13457-7^LDL Cholesterol calc [Mass/volume]^LN||102|mg/dL^mg/dL^UCUM|<130|N|||F\r"+
		"NTE|1||Synthetic message; no real patient.\r"...)
	return b
}

// panel is a chemistry and blood count panel: LOINC code, name, value,
// UCUM unit and reference range, for AppendORUResults.
var panel = [...][5]string{
	{"2345-7", "Glucose [Mass/volume] in Serum or Plasma", "95", "mg/dL", "70-99"},
	{"3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", "14", "mg/dL", "7-20"},
	{"2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "0.9", "mg/dL", "0.6-1.2"},
	{"2951-2", "Sodium [Moles/volume] in Serum or Plasma", "140", "mmol/L", "135-145"},
	{"2823-3", "Potassium [Moles/volume] in Serum or Plasma", "4.2", "mmol/L", "3.5-5.1"},
	{"2075-0", "Chloride [Moles/volume] in Serum or Plasma", "102", "mmol/L", "98-107"},
	{"2028-9", "Carbon dioxide, total [Moles/volume] in Serum or Plasma", "25", "mmol/L", "22-29"},
	{"17861-6", "Calcium [Mass/volume] in Serum or Plasma", "9.4", "mg/dL", "8.6-10.3"},
	{"2885-2", "Protein [Mass/volume] in Serum or Plasma", "7.1", "g/dL", "6.0-8.3"},
	{"1751-7", "Albumin [Mass/volume] in Serum or Plasma", "4.3", "g/dL", "3.5-5.0"},
	{"1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", "0.7", "mg/dL", "0.1-1.2"},
	{"6768-6", "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma", "70", "U/L", "44-147"},
	{"1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "22", "U/L", "7-56"},
	{"1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "24", "U/L", "10-40"},
	{"6690-2", "Leukocytes [#/volume] in Blood by Automated count", "6.1", "10*3/uL", "4.5-11.0"},
	{"789-8", "Erythrocytes [#/volume] in Blood by Automated count", "4.7", "10*6/uL", "4.2-5.9"},
	{"718-7", "Hemoglobin [Mass/volume] in Blood", "14.2", "g/dL", "13.5-17.5"},
	{"4544-3", "Hematocrit [Volume Fraction] of Blood by Automated count", "42", "%", "41-53"},
	{"787-2", "MCV [Entitic volume] by Automated count", "89", "fL", "80-100"},
	{"777-3", "Platelets [#/volume] in Blood by Automated count", "250", "10*3/uL", "150-400"},
}

// AppendORUResults appends a synthetic ORU^R01 with results OBX segments
// (a chemistry and blood count panel; past 20 the codes repeat with
// sub-IDs) to b: sent by app, with control ID prefix+conn-i, for patient
// MRN-(i mod 1000), order ORD-<prefix><conn>-<i>. Every message is a new
// order with new results, as a lab sends them.
func AppendORUResults(b []byte, app, prefix string, conn, i, results int) []byte {
	n := func(v int) { b = strconv.AppendInt(b, int64(v), 10) }
	id := func() {
		b = append(b, prefix...)
		n(conn)
		b = append(b, '-')
		n(i)
	}
	b = append(b, "MSH|^~\\&|"...)
	b = append(b, app...)
	b = append(b, "|North|EHR|Ward|20260102030405||ORU^R01^ORU_R01|"...)
	id()
	b = append(b, "|P|2.5.1\rPID|1||MRN-"...)
	n(i % 1000)
	b = append(b, "^^^North^MR||Synthetic^Patient^Q||19800101|F|||1 Main St^^Springfield^IL^62701\r"+
		"PV1|1|O|CLINIC^1^1\rORC|RE|ORD-"...)
	id()
	b = append(b, "^North|FIL-"...)
	id()
	b = append(b, "^LAB\rOBR|1|ORD-"...)
	id()
	b = append(b, "^North|FIL-"...)
	id()
	b = append(b, "^LAB|24323-8^Comprehensive metabolic and blood count panel^LN|||20260102030405|||||||20260102040000||||||||20260102050000|||F\r"...)
	for k := range results {
		p := panel[k%len(panel)]
		b = append(b, "OBX|"...)
		n(k + 1)
		b = append(b, "|NM|"...)
		b = append(b, p[0]...)
		b = append(b, '^')
		b = append(b, p[1]...)
		b = append(b, "^LN|"...)
		n(k/len(panel) + 1)
		b = append(b, '|')
		b = append(b, p[2]...)
		b = append(b, '|')
		b = append(b, p[3]...)
		b = append(b, '^')
		b = append(b, p[3]...)
		b = append(b, "^UCUM|"...)
		b = append(b, p[4]...)
		b = append(b, "|N|||F|||20260102040000\r"...)
	}
	b = append(b, "NTE|1||Synthetic message; no real patient.\r"...)
	return b
}
