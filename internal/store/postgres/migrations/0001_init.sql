-- Tokens: bearer credentials, stored as a SHA-256 of the secret.
CREATE TABLE tokens (
	id         TEXT PRIMARY KEY,
	hash       BYTEA NOT NULL,
	role       TEXT NOT NULL,
	patient    TEXT NOT NULL DEFAULT '',
	scopes     TEXT NOT NULL DEFAULT '',
	label      TEXT NOT NULL DEFAULT '',
	created_by TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	revoked_at BIGINT NOT NULL DEFAULT 0
);

-- The audit trail: append-only, hash-chained (see concord.AuditRecord).
CREATE TABLE audit_log (
	seq        BIGINT PRIMARY KEY,
	at         BIGINT NOT NULL,
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

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- The head of the audit chain: one row, locked by every append.
CREATE TABLE audit_chain (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  BIGINT NOT NULL,
	hash TEXT NOT NULL
);
INSERT INTO audit_chain (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
