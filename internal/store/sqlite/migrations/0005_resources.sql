-- FHIR resources (the clinical store). resources holds each resource's
-- current version; resource_versions every version, in the order stored:
-- its seq is the change log subscriptions and outbound interfaces follow.
CREATE TABLE resources (
	type         TEXT NOT NULL,
	id           TEXT NOT NULL,
	version      INTEGER NOT NULL,
	last_updated INTEGER NOT NULL,
	deleted      INTEGER NOT NULL DEFAULT 0,
	content      BLOB,
	seq          INTEGER NOT NULL,
	PRIMARY KEY (type, id)
);

CREATE TABLE resource_versions (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	type         TEXT NOT NULL,
	id           TEXT NOT NULL,
	version      INTEGER NOT NULL,
	last_updated INTEGER NOT NULL,
	deleted      INTEGER NOT NULL DEFAULT 0,
	content      BLOB,
	UNIQUE (type, id, version)
);
-- Type-level history, newest first.
CREATE INDEX resource_versions_type ON resource_versions (type, seq);
