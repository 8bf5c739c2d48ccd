-- The "needs mapping" report (concord.UnmappedCode): codes a sender used
-- that no ConceptMap mapped, one row per sender, coding system (as the
-- message named it) and code. places holds where they were seen ("OBX-3
-- OBR-4"), separated by spaces; mapped_at is 0 while no mapping exists.
CREATE TABLE unmapped_codes (
	sender     TEXT NOT NULL,
	system     TEXT NOT NULL,
	code       TEXT NOT NULL,
	display    TEXT NOT NULL DEFAULT '',
	places     TEXT NOT NULL DEFAULT '',
	seen       BIGINT NOT NULL,
	first_seen BIGINT NOT NULL,
	last_seen  BIGINT NOT NULL,
	mapped_at  BIGINT NOT NULL DEFAULT 0,
	mapped_to  TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (sender, system, code)
);
-- The report lists the most frequent first.
CREATE INDEX unmapped_codes_seen ON unmapped_codes (seen DESC, sender, system, code);
