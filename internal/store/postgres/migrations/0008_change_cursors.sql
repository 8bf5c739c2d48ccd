-- Where each reader of the change log stands (engine change sources, see
-- concord.Tx.MoveCursor): the seq of the last resource version it has
-- handled, moved in the same transaction as the messages it produced.
CREATE TABLE change_cursors (
	name       TEXT PRIMARY KEY,
	seq        BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
