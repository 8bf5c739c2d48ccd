-- FHIR Subscriptions (internal/subscription): beside each Subscription
-- resource, the principal it notifies for and where its notifications
-- stand (handshake owed, heartbeat period and last sending, for the R5
-- Backport's topic-based subscriptions); and each subscription's queue of
-- events, numbered from 1 without gaps, appended in the same transaction
-- as the matcher's cursor move.
CREATE TABLE subscriptions (
	id            TEXT PRIMARY KEY,
	owner         TEXT NOT NULL,
	role          TEXT NOT NULL,
	scopes        TEXT NOT NULL,
	patient       TEXT NOT NULL,
	events        BIGINT NOT NULL DEFAULT 0,
	delivered     BIGINT NOT NULL DEFAULT 0,
	attempts      BIGINT NOT NULL DEFAULT 0,
	errors        BIGINT NOT NULL DEFAULT 0,
	failing_since BIGINT NOT NULL DEFAULT 0,
	next_attempt  BIGINT NOT NULL DEFAULT 0,
	last_error    TEXT NOT NULL DEFAULT '',
	handshake     BIGINT NOT NULL DEFAULT 0,
	heartbeat     BIGINT NOT NULL DEFAULT 0,
	last_sent     BIGINT NOT NULL DEFAULT 0,
	updated_at    BIGINT NOT NULL
);
CREATE INDEX subscriptions_next ON subscriptions (next_attempt);

CREATE TABLE subscription_events (
	subscription TEXT NOT NULL,
	number       BIGINT NOT NULL,
	rtype        TEXT NOT NULL,
	rid          TEXT NOT NULL,
	version      BIGINT NOT NULL,
	seq          BIGINT NOT NULL,
	at           BIGINT NOT NULL,
	PRIMARY KEY (subscription, number)
);
CREATE INDEX subscription_events_at ON subscription_events (at);

-- The matcher's place in the change log starts here: no Subscription was
-- admitted before this migration, so nothing earlier can match.
INSERT INTO change_cursors (name, seq, updated_at)
	SELECT ':subscriptions', COALESCE(MAX(seq), 0), 0 FROM resource_versions;
