package concord

// SearchIndex holds what a resource version is found by: the values of
// its search parameters, computed by the FHIR layer when it stores the
// version (see internal/search) and replaced with each version.
type SearchIndex struct {
	Strings    []IndexString
	Tokens     []IndexToken
	Dates      []IndexDate
	Numbers    []IndexNumber
	Quantities []IndexQuantity
	Refs       []IndexRef
	URIs       []IndexURI
	Composites []IndexComposite
}

// Rows returns how many values the index holds.
func (x *SearchIndex) Rows() int {
	if x == nil {
		return 0
	}
	return len(x.Strings) + len(x.Tokens) + len(x.Dates) + len(x.Numbers) + len(x.Quantities) +
		len(x.Refs) + len(x.URIs) + len(x.Composites)
}

// IndexString is a value of a string parameter: Norm lower-cased and
// without accents, Exact as written.
type IndexString struct{ Param, Norm, Exact string }

// IndexToken is a value of a token parameter. Text is the display or
// text that goes with the code, normalised as IndexString.Norm.
type IndexToken struct{ Param, System, Code, Text string }

// IndexDate is a value of a date parameter: the range it covers at its
// precision, in microseconds since 1970 UTC, both ends included.
type IndexDate struct {
	Param  string
	Lo, Hi int64
}

// IndexNumber is a value of a number parameter.
type IndexNumber struct {
	Param string
	Value float64
}

// IndexQuantity is a value of a quantity parameter: as written, and for a
// UCUM unit in base units (CanonCode names them, such as "g.m-3"; empty
// when the unit is not one the server converts).
type IndexQuantity struct {
	Param, System, Code string
	Value               float64
	CanonCode           string
	CanonValue          float64
}

// IndexRef is a value of a reference parameter: Type and ID for a
// reference to a resource of this server, URL otherwise (a canonical
// without its version).
type IndexRef struct{ Param, Type, ID, URL string }

// IndexURI is a value of a uri parameter.
type IndexURI struct{ Param, URI string }

// IndexComposite is a value of a composite parameter of two parts: the
// first a token (ASystem, ACode); the second a token (BSystem, BCode), a
// quantity (BSystem and BCode its unit, BLo = BHi its value, in base units
// when BSystem is "canon"), a date (BLo, BHi in microseconds) or a string
// (BCode, normalised).
type IndexComposite struct {
	Param                          string
	ASystem, ACode, BSystem, BCode string
	BLo, BHi                       float64
}
