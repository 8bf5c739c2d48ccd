package hl7v2

import "strings"

// Field data types and code tables that Validate checks, for the common
// segments. Field numbers and types follow HL7 v2.5.1 chapters 2 to 11;
// only fields whose type is the same (or compatible: TS became DTM, IS and
// CE became CWE) in every version from 2.3 to 2.8 are listed, so that a
// message valid in its own version passes. Values are read leniently: the
// first component of each repetition is checked, and empty and null ("")
// values are skipped.

// fieldType is the kind of check a field gets.
type fieldType uint8

const (
	typeDT   fieldType = iota + 1 // date: YYYY[MM[DD]]
	typeDTM                       // date/time (DTM, or the first component of a TS)
	typeTM                        // time: HH[MM[SS[.S[S[S[S]]]]]][+/-ZZZZ]
	typeNM                        // number
	typeSI                        // sequence ID: a non-negative integer
	typeDR                        // date/time range: a DTM in each of components 1 and 2
	typeCode                      // a code (ID, IS, CE, CWE) from a table
)

// codeTable is an HL7 table of codes. A user-defined table lists the
// values the standard suggests; values outside it are only warned about.
type codeTable struct {
	id    string
	name  string
	user  bool
	codes map[string]bool
}

func newTable(id, name string, user bool, codes string) *codeTable {
	t := &codeTable{id: id, name: name, user: user, codes: map[string]bool{}}
	for _, c := range strings.Fields(codes) {
		t.codes[c] = true
	}
	return t
}

// The tables, with the values of every version from 2.3 to 2.9 (values
// withdrawn in later versions stay valid for the versions that had them).
// Sources: HL7 v2.9 chapter 2C (code tables) and the chapters that define
// each field.
var (
	// Chapter 3 (PID-8, NK1-15, GT1-9, IN1-43): administrative sex,
	// user-defined; X (non-binary) is v2.9.
	table0001 = newTable("0001", "administrative sex", true, "A F M N O U X")
	// Chapter 3 (PV1-2): patient class, user-defined.
	table0004 = newTable("0004", "patient class", true, "B C E I N O P R U")
	// Chapter 2 (MSA-1): acknowledgment code.
	table0008 = newTable("0008", "acknowledgment code", false, "AA AE AR CA CE CR")
	// Chapter 4 (ORC-5): order status.
	table0038 = newTable("0038", "order status", false, "A CA CM DC ER HD IP RP SC")
	// Chapter 4 (OBR-11): specimen action code.
	table0065 = newTable("0065", "specimen action code", false, "A C G L O P R S")
	// Chapter 7 (OBX-11): observation result status.
	table0085 = newTable("0085", "observation result status", false, "A B C D F I N O P R S U V W X")
	// Chapter 2 (MSH-11): processing ID. N and V are v2.9.
	table0103 = newTable("0103", "processing ID", false, "D P T")
	// Chapter 2 (MSH-12): version ID, the versions Concord reads.
	table0104 = newTable("0104", "version ID", false, "2.1 2.2 2.3 2.3.1 2.4 2.5 2.5.1 2.6 2.7 2.7.1 2.8 2.8.1 2.8.2 2.9")
	// Chapter 2 (NTE-2): source of comment.
	table0105 = newTable("0105", "source of comment", false, "L O P")
	// Chapter 4 (ORC-1): order control codes, v2.3 to v2.9.
	table0119 = newTable("0119", "order control", false, "AF CA CH CN CP CR DC DE DF DR FU HD HR LI MC NA NR NW OC OD OE OF OH OK"+
		" OP OR PA PR PY RA RC RD RE RF RL RO RP RQ RR RU SC SN SQ SR SS SU UA UC UD UF UH UM UN UR UX XO XR XX")
	// Chapter 4 (ORC-6): response flag.
	table0121 = newTable("0121", "response flag", false, "D E F N R")
	// Chapter 4 (OBR-25): result status.
	table0123 = newTable("0123", "result status", false, "A C F I M N O P R S X Y Z")
	// Chapter 7 (OBX-2): value type. Table 0125 is a subset of the data
	// types of table 0440 that grew with each version (CE and TS up to
	// v2.5; CWE, CNE, DTM and others since); HL7 terminology now binds
	// OBX-2 to all of table 0440, so all data types are accepted.
	table0125 = newTable("0125", "value type", false, "AD AUI CCD CCP CD CE CF CK CM CN CNE CNN CP CQ CSU CWE CX DDI DIN"+
		" DLD DLN DLT DR DT DTM DTN ED EI EIP ELD ERL FC FN FT GTS HD ICD ID IS JCC LA1 LA2 MA MO MOC MOP MSG NA NDL NM NR"+
		" OCD OSD OSP PIP PL PLN PN PPN PRL PT PTA QIP QSC RCD RFR RI RMC RP RPT SAD SCV SI SN SNM SPD SPS SRT ST TM TN TQ"+
		" TS TX UVC VH VID VR WVI WVS XAD XCN XON XPN XTN")
	// Chapter 3 (AL1-2): allergen type, user-defined.
	table0127 = newTable("0127", "allergen type", true, "AA DA EA FA LA MA MC PA")
	// Chapter 2 (yes/no indicator fields).
	table0136 = newTable("0136", "yes/no indicator", false, "N Y")
	// Chapter 2 (MSH-15, MSH-16): accept/application acknowledgment
	// conditions.
	table0155 = newTable("0155", "acknowledgment condition", false, "AL ER NE SU")
	// Chapter 9 (TXA-3): type of referenced data.
	table0191 = newTable("0191", "type of referenced data", false, "AP AU FT IM multipart NS SD SI TEXT TX")
	// Chapter 10 (AIS-2, AIG-2, AIL-2, AIP-2) and v2.7+ RXA-21: segment
	// action code; table 0323 (RXA-21 before v2.7) has A D U X.
	table0206 = newTable("0206", "segment action code", false, "A D S U X")
	// Chapter 9 (TXA-17): document completion status.
	table0271 = newTable("0271", "document completion status", false, "AU DI DO IN IP LA PA")
	// Chapter 9 (TXA-19): document availability status.
	table0273 = newTable("0273", "document availability status", false, "AV CA OB UN")
	// Chapter 9 (TXA-20): document storage status.
	table0275 = newTable("0275", "document storage status", false, "AA AC AR PU")
	// Chapter 4A (RXA-20): completion status.
	table0322 = newTable("0322", "completion status", false, "CP NA PA RE")
	// Chapter 4 (TQ1-12): TQ conjunction (table 0427 in v2.5, 0472 since).
	table0472 = newTable("0472", "TQ conjunction", false, "A C S")
	// Chapter 2 (ERR-4): error severity; F is v2.7.
	table0516 = newTable("0516", "error severity", false, "E F I W")
)

// fieldRule is one checked field of a segment.
type fieldRule struct {
	field int
	typ   fieldType
	table *codeTable
}

// segmentFields lists the checked fields of each segment (HL7 v2.5.1
// numbering; v2.7 and later renumber nothing listed here). It is never
// modified.
var segmentFields = map[string][]fieldRule{
	// Chapter 3.
	"EVN": {{2, typeDTM, nil}, {3, typeDTM, nil}, {6, typeDTM, nil}},
	"PID": {{1, typeSI, nil}, {7, typeDTM, nil}, {8, typeCode, table0001}, {24, typeCode, table0136}, {25, typeNM, nil},
		{29, typeDTM, nil}, {30, typeCode, table0136}, {31, typeCode, table0136}, {33, typeDTM, nil}},
	"PD1": {{9, typeCode, table0136}, {12, typeCode, table0136}, {13, typeDT, nil}, {17, typeDT, nil}, {18, typeDT, nil}},
	"NK1": {{1, typeSI, nil}, {8, typeDT, nil}, {9, typeDT, nil}, {15, typeCode, table0001}, {16, typeDTM, nil},
		{23, typeCode, table0136}},
	"PV1": {{1, typeSI, nil}, {2, typeCode, table0004}, {25, typeDT, nil}, {26, typeNM, nil}, {27, typeNM, nil},
		{30, typeDT, nil}, {32, typeNM, nil}, {33, typeNM, nil}, {35, typeDT, nil}, {44, typeDTM, nil}, {45, typeDTM, nil},
		{46, typeNM, nil}, {47, typeNM, nil}, {48, typeNM, nil}, {49, typeNM, nil}},
	"PV2": {{8, typeDTM, nil}, {9, typeDTM, nil}, {10, typeNM, nil}, {11, typeNM, nil}, {15, typeCode, table0136},
		{22, typeCode, table0136}, {26, typeDT, nil}, {29, typeDT, nil}, {33, typeDTM, nil}, {36, typeCode, table0136},
		{37, typeCode, table0136}},
	"AL1": {{1, typeSI, nil}, {2, typeCode, table0127}, {6, typeDT, nil}},
	"DG1": {{1, typeSI, nil}, {5, typeDTM, nil}, {18, typeCode, table0136}, {19, typeDTM, nil}},
	"PR1": {{1, typeSI, nil}, {5, typeDTM, nil}, {7, typeNM, nil}, {10, typeNM, nil}},
	// Chapter 6.
	"GT1": {{1, typeSI, nil}, {8, typeDTM, nil}, {9, typeCode, table0001}, {13, typeDT, nil}, {14, typeDT, nil},
		{15, typeNM, nil}, {22, typeCode, table0136}, {24, typeDTM, nil}, {25, typeCode, table0136}, {28, typeNM, nil},
		{31, typeDT, nil}, {32, typeDT, nil}, {39, typeCode, table0136}},
	"IN1": {{1, typeSI, nil}, {12, typeDT, nil}, {13, typeDT, nil}, {18, typeDTM, nil}, {23, typeCode, table0136},
		{24, typeDT, nil}, {25, typeCode, table0136}, {26, typeDT, nil}, {29, typeDTM, nil}, {33, typeNM, nil},
		{34, typeNM, nil}, {39, typeNM, nil}, {43, typeCode, table0001}},
	"FT1": {{1, typeSI, nil}, {4, typeDR, nil}, {5, typeDTM, nil}, {10, typeNM, nil}},
	// Chapter 4.
	"ORC": {{1, typeCode, table0119}, {5, typeCode, table0038}, {6, typeCode, table0121}, {9, typeDTM, nil},
		{15, typeDTM, nil}, {27, typeDTM, nil}},
	"OBR": {{1, typeSI, nil}, {6, typeDTM, nil}, {7, typeDTM, nil}, {8, typeDTM, nil}, {11, typeCode, table0065},
		{14, typeDTM, nil}, {22, typeDTM, nil}, {25, typeCode, table0123}, {36, typeDTM, nil}, {37, typeNM, nil}},
	"TQ1": {{1, typeSI, nil}, {7, typeDTM, nil}, {8, typeDTM, nil}, {12, typeCode, table0472}, {14, typeNM, nil}},
	// Chapter 7 (OBX-5 is checked against OBX-2 separately).
	"OBX": {{1, typeSI, nil}, {2, typeCode, table0125}, {9, typeNM, nil}, {11, typeCode, table0085}, {12, typeDTM, nil},
		{14, typeDTM, nil}, {19, typeDTM, nil}},
	"SPM": {{1, typeSI, nil}, {13, typeNM, nil}, {17, typeDR, nil}, {18, typeDTM, nil}, {19, typeDTM, nil},
		{20, typeCode, table0136}, {26, typeNM, nil}},
	// Chapter 2.
	"NTE": {{1, typeSI, nil}, {2, typeCode, table0105}},
	"MSA": {{1, typeCode, table0008}, {4, typeNM, nil}},
	"ERR": {{4, typeCode, table0516}},
	"SFT": {{6, typeDTM, nil}},
	// Chapter 4A.
	"RXA": {{1, typeNM, nil}, {2, typeNM, nil}, {3, typeDTM, nil}, {4, typeDTM, nil}, {6, typeNM, nil}, {13, typeNM, nil},
		{16, typeDTM, nil}, {20, typeCode, table0322}, {21, typeCode, table0206}, {22, typeDTM, nil}},
	"RXE": {{3, typeNM, nil}, {4, typeNM, nil}, {10, typeNM, nil}, {12, typeNM, nil}, {16, typeNM, nil},
		{17, typeNM, nil}, {20, typeCode, table0136}},
	// Chapter 9.
	"TXA": {{1, typeSI, nil}, {3, typeCode, table0191}, {4, typeDTM, nil}, {6, typeDTM, nil}, {7, typeDTM, nil},
		{8, typeDTM, nil}, {17, typeCode, table0271}, {19, typeCode, table0273}, {20, typeCode, table0275}},
	// Chapter 10.
	"AIS": {{1, typeSI, nil}, {2, typeCode, table0206}, {4, typeDTM, nil}, {5, typeNM, nil}, {7, typeNM, nil}},
	"AIG": {{1, typeSI, nil}, {2, typeCode, table0206}, {6, typeNM, nil}, {8, typeDTM, nil}, {9, typeNM, nil},
		{11, typeNM, nil}},
	"AIL": {{1, typeSI, nil}, {2, typeCode, table0206}, {6, typeDTM, nil}, {7, typeNM, nil}, {9, typeNM, nil}},
	"AIP": {{1, typeSI, nil}, {2, typeCode, table0206}, {6, typeDTM, nil}, {7, typeNM, nil}, {9, typeNM, nil}},
}

// typeName names a field type for diagnostics.
func (t fieldType) String() string {
	switch t {
	case typeDT:
		return "DT (YYYY[MM[DD]])"
	case typeDTM:
		return "DTM (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ])"
	case typeTM:
		return "TM (HH[MM[SS[.S]]][+/-ZZZZ])"
	case typeNM:
		return "NM (a number)"
	case typeSI:
		return "SI (a sequence number)"
	case typeDR:
		return "DR (a range of DTM)"
	}
	return "a coded value"
}

// validDT reports whether b is a DT: YYYY, YYYYMM or YYYYMMDD, a real
// date.
func validDT(b []byte) bool {
	if len(b) != 4 && len(b) != 6 && len(b) != 8 || !allDigits(b) {
		return false
	}
	return validDate(b)
}

// validDate checks the month and day of YYYY[MM[DD]] digits.
func validDate(b []byte) bool {
	if len(b) >= 6 {
		month := num2(b[4:6])
		if month < 1 || month > 12 {
			return false
		}
		if len(b) >= 8 {
			day := num2(b[6:8])
			if day < 1 || day > daysIn(num4(b[0:4]), month) {
				return false
			}
		}
	}
	return true
}

// timeBody checks the UTC offset and the fraction of seconds of a DTM or
// TM and returns what comes before them. A fraction needs a body of
// exactly fullLen digits (down to the second) and 1 to 4 digits.
func timeBody(b []byte, fullLen int) ([]byte, bool) {
	body, zone := splitZone(b)
	if zone != nil && !validZone(zone) {
		return nil, false
	}
	if i := indexByte(body, '.'); i >= 0 {
		frac := body[i+1:]
		body = body[:i]
		if len(body) != fullLen || len(frac) == 0 || len(frac) > 4 || !allDigits(frac) {
			return nil, false
		}
	}
	return body, true
}

// validDTM reports whether b is a DTM as ParseTime reads it:
// YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ].
func validDTM(b []byte) bool {
	body, ok := timeBody(b, 14)
	if !ok {
		return false
	}
	switch len(body) {
	case 4, 6, 8, 10, 12, 14:
	default:
		return false
	}
	if !allDigits(body) || !validDate(body[:min(8, len(body))]) {
		return false
	}
	return len(body) <= 8 || validClock(body[8:])
}

// validTM reports whether b is a TM: HH[MM[SS[.S[S[S[S]]]]]][+/-ZZZZ].
func validTM(b []byte) bool {
	body, ok := timeBody(b, 6)
	if !ok {
		return false
	}
	if len(body) != 2 && len(body) != 4 && len(body) != 6 || !allDigits(body) {
		return false
	}
	return validClock(body)
}

// validClock checks HH[MM[SS]] digits.
func validClock(b []byte) bool {
	if num2(b[0:2]) > 23 {
		return false
	}
	if len(b) >= 4 && num2(b[2:4]) > 59 {
		return false
	}
	return len(b) < 6 || num2(b[4:6]) <= 59
}

// splitZone splits a time at its UTC offset (the first + or -).
func splitZone(b []byte) (body, zone []byte) {
	for i, c := range b {
		if c == '+' || c == '-' {
			return b[:i], b[i:]
		}
	}
	return b, nil
}

// validZone checks +HHMM or -HHMM as ParseTime does.
func validZone(z []byte) bool {
	return len(z) == 5 && allDigits(z[1:]) && num2(z[1:3]) <= 14 && num2(z[3:5]) <= 59
}

// validNM reports whether b is an NM as ParseNumber reads it: an optional
// sign, digits and at most one decimal point, surrounded by optional
// spaces.
func validNM(b []byte) bool {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		b = b[1:]
	}
	digits, dots := 0, 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

// trimSpaces drops leading and trailing spaces, which carry no meaning in
// coded, numeric and date values.
func trimSpaces(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// validSI reports whether b is a sequence ID: digits only.
func validSI(b []byte) bool { return len(b) > 0 && allDigits(b) }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func num2(b []byte) int { return int(b[0]-'0')*10 + int(b[1]-'0') }

func num4(b []byte) int { return num2(b[0:2])*100 + num2(b[2:4]) }

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
