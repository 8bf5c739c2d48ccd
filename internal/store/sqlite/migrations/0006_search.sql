-- The search index of the clinical store: the values of each current
-- resource's search parameters, one table per kind of value, computed by
-- the FHIR layer with the parameters' FHIRPath expressions and replaced in
-- the same transaction as each version. rtype and rid name the resource;
-- param is the parameter's code (for an identifier's type, the code with
-- ":of-type"; for a reference's identifier, ":identifier").

-- string parameters: norm is the value lower-cased without accents (for
-- the default starts-with and :contains), exact as written (:exact).
CREATE TABLE idx_string (
	rtype TEXT NOT NULL,
	rid   TEXT NOT NULL,
	param TEXT NOT NULL,
	norm  TEXT NOT NULL,
	exact TEXT NOT NULL
);
CREATE INDEX idx_string_value ON idx_string (rtype, param, norm);
CREATE INDEX idx_string_res ON idx_string (rtype, rid);

-- token parameters: system and code; text is the display or text,
-- normalised as norm above (:text).
CREATE TABLE idx_token (
	rtype  TEXT NOT NULL,
	rid    TEXT NOT NULL,
	param  TEXT NOT NULL,
	system TEXT NOT NULL,
	code   TEXT NOT NULL,
	text   TEXT NOT NULL
);
CREATE INDEX idx_token_value ON idx_token (rtype, param, code, system);
CREATE INDEX idx_token_res ON idx_token (rtype, rid);

-- date parameters: the range the value covers at its precision, in
-- microseconds since 1970 UTC, both ends included.
CREATE TABLE idx_date (
	rtype TEXT NOT NULL,
	rid   TEXT NOT NULL,
	param TEXT NOT NULL,
	lo    INTEGER NOT NULL,
	hi    INTEGER NOT NULL
);
CREATE INDEX idx_date_value ON idx_date (rtype, param, lo, hi);
CREATE INDEX idx_date_res ON idx_date (rtype, rid);

-- number parameters.
CREATE TABLE idx_number (
	rtype TEXT NOT NULL,
	rid   TEXT NOT NULL,
	param TEXT NOT NULL,
	value REAL NOT NULL
);
CREATE INDEX idx_number_value ON idx_number (rtype, param, value);
CREATE INDEX idx_number_res ON idx_number (rtype, rid);

-- quantity parameters: as written (system, code, value) and, for a UCUM
-- unit, in base units (canon_code names them, canon_value the value).
CREATE TABLE idx_quantity (
	rtype       TEXT NOT NULL,
	rid         TEXT NOT NULL,
	param       TEXT NOT NULL,
	system      TEXT NOT NULL,
	code        TEXT NOT NULL,
	value       REAL NOT NULL,
	canon_code  TEXT NOT NULL,
	canon_value REAL NOT NULL
);
CREATE INDEX idx_quantity_value ON idx_quantity (rtype, param, value);
CREATE INDEX idx_quantity_canon ON idx_quantity (rtype, param, canon_code, canon_value);
CREATE INDEX idx_quantity_res ON idx_quantity (rtype, rid);

-- reference parameters: the target's type and id when the reference is
-- to a resource of this server, else its url (canonical without version).
CREATE TABLE idx_ref (
	rtype TEXT NOT NULL,
	rid   TEXT NOT NULL,
	param TEXT NOT NULL,
	ttype TEXT NOT NULL,
	tid   TEXT NOT NULL,
	url   TEXT NOT NULL
);
CREATE INDEX idx_ref_value ON idx_ref (rtype, param, tid, ttype);
CREATE INDEX idx_ref_target ON idx_ref (ttype, tid);
CREATE INDEX idx_ref_res ON idx_ref (rtype, rid);

-- uri parameters.
CREATE TABLE idx_uri (
	rtype TEXT NOT NULL,
	rid   TEXT NOT NULL,
	param TEXT NOT NULL,
	uri   TEXT NOT NULL
);
CREATE INDEX idx_uri_value ON idx_uri (rtype, param, uri);
CREATE INDEX idx_uri_res ON idx_uri (rtype, rid);

-- composite parameters of two parts: the first a token (a_system,
-- a_code), the second a token (b_system, b_code), a quantity (b_system,
-- b_code, b_lo = b_hi = the value in base units when b_canon is set), a
-- date (b_lo, b_hi in microseconds) or a string (b_code, normalised).
CREATE TABLE idx_composite (
	rtype    TEXT NOT NULL,
	rid      TEXT NOT NULL,
	param    TEXT NOT NULL,
	a_system TEXT NOT NULL,
	a_code   TEXT NOT NULL,
	b_system TEXT NOT NULL,
	b_code   TEXT NOT NULL,
	b_lo     REAL NOT NULL,
	b_hi     REAL NOT NULL
);
CREATE INDEX idx_composite_value ON idx_composite (rtype, param, a_code, a_system);
CREATE INDEX idx_composite_res ON idx_composite (rtype, rid);

-- Searches list current resources of a type, most recent first by
-- default.
CREATE INDEX resources_type_updated ON resources (type, last_updated);
