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
