package concord

// SearchQuery is a FHIR search over one resource type, parsed and checked
// against the type's search parameters (internal/search builds it; a
// store runs it).
type SearchQuery struct {
	Type   string
	Where  []SearchClause // every clause must hold
	Sort   []SearchSort   // then by id
	Count  int            // the page size; 0 asks for no resources (only the total)
	Offset int            // matches to skip (paging)
	Total  bool           // count every match
	// Compartment, when set, limits the search to a compartment.
	Compartment *SearchCompartment
}

// SearchCompartment is a compartment (FHIR R4 compartmentdefinition):
// the resources whose reference parameters Params point to Owner, and
// Owner itself when it is of the searched type.
type SearchCompartment struct {
	Owner  Ref
	Params []string
}

// Kinds of search clauses besides the parameter types (token, string,
// date, number, quantity, reference, uri, composite).
const (
	SearchKindID          = "_id"          // the resource id
	SearchKindLastUpdated = "_lastUpdated" // meta.lastUpdated, from the store's own column
	SearchKindList        = "_list"        // the items of a List
)

// SearchClause is the condition one search parameter (or a chain, or a
// _has) puts on the resources: any of its values may match.
type SearchClause struct {
	Param string // the parameter code as indexed (e.g. code, identifier:of-type)
	// Stored, when set, are the parameters whose index rows stand for
	// Param's: a parameter defined as the union of others (Observation's
	// combo-code is code and component-code) is not indexed itself.
	Stored []string
	Kind   string // the parameter type, or a SearchKind* constant
	// Modifier is one of missing, exact, contains, text, not, above,
	// below (or empty). The parser has already turned :identifier and
	// :of-type into other parameters and a type modifier into RefType.
	Modifier string
	Missing  bool // with Modifier missing: true asks for resources without a value
	Values   []SearchValue
	// CompositeKind is, for a composite, its second part's type.
	CompositeKind string
	// Chain, when set, makes this a chained search: the resources whose
	// reference parameter Param points to a resource matching Chain.
	Chain []ChainTarget
	// Has, when set, makes this a reverse chain (_has): the resources
	// referred to by a resource of Has.Type, through Has.Param, that
	// matches Has.Clause.
	Has *SearchHas
}

// ChainTarget is one type a chained reference may point to, with the
// clause for resources of that type.
type ChainTarget struct {
	Type   string
	Clause SearchClause
}

// SearchHas is a reverse chain: resources of Type whose reference
// parameter Param points to the searched resource, and that match
// Clause.
type SearchHas struct {
	Type, Param string
	Clause      SearchClause
}

// SearchValue is one value of a clause.
type SearchValue struct {
	Prefix string // eq, ne, gt, lt, ge, le, sa, eb, ap for ordered types
	// Token: System (with HasSystem when the value had a "|"), Code.
	// String and uri: Code (a string value already normalised unless
	// :exact). Reference: RefType and Code (the id), or URL.
	// Quantity: System and Unit, or CanonUnit with the value in base units.
	System    string
	HasSystem bool
	Code      string
	RefType   string
	URL       string
	Unit      string
	CanonUnit string
	// Date: DateLo and DateHi (microseconds, both included); number and
	// quantity: Num and the range NumLo ≤ x < NumHi its precision covers.
	DateLo, DateHi int64
	DateSlack      int64 // ap: how far the date range is widened each way
	Num            float64
	NumLo, NumHi   float64
	// Composite: the first part's token in System/HasSystem/Code, the
	// second part here.
	Second *SearchValue
}

// SearchSort is one sort key.
type SearchSort struct {
	Param  string
	Stored []string // as SearchClause.Stored
	Kind   string
	Desc   bool
}

// Ref names a resource by type and id.
type Ref struct{ Type, ID string }
