-- Tokens: bearer credentials, stored as a SHA-256 of the secret.
CREATE TABLE tokens (
	id         TEXT PRIMARY KEY,
	hash       BLOB NOT NULL,
	role       TEXT NOT NULL,
	patient    TEXT NOT NULL DEFAULT '',
	scopes     TEXT NOT NULL DEFAULT '',
	label      TEXT NOT NULL DEFAULT '',
	created_by TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- The audit trail: append-only, hash-chained (see concord.AuditRecord).
CREATE TABLE audit_log (
	seq        INTEGER PRIMARY KEY,
	at         INTEGER NOT NULL,
	actor      TEXT NOT NULL,
	role       TEXT NOT NULL,
	address    TEXT NOT NULL,
	action     TEXT NOT NULL,
	object     TEXT NOT NULL,
	patient    TEXT NOT NULL,
	outcome    INTEGER NOT NULL,
	detail     TEXT NOT NULL,
	request_id TEXT NOT NULL,
	node       TEXT NOT NULL,
	prev_hash  TEXT NOT NULL,
	hash       TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- The head of the audit chain: one row, locked by every append.
CREATE TABLE audit_chain (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  INTEGER NOT NULL,
	hash TEXT NOT NULL
);
INSERT INTO audit_chain (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
