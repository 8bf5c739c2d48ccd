-- Deliveries: one row per message and destination, sent in id order per
-- destination (see concord.Delivery). payload is the transformed message
-- to send, NULL to send the message as received.
CREATE TABLE deliveries (
	id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	message_id   BIGINT NOT NULL REFERENCES messages (id),
	channel      TEXT NOT NULL,
	destination  TEXT NOT NULL,
	status       TEXT NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt BIGINT NOT NULL,
	last_error   TEXT NOT NULL DEFAULT '',
	partner_ack  TEXT NOT NULL DEFAULT '',
	created_at   BIGINT NOT NULL,
	payload      BYTEA,
	sent_at      BIGINT NOT NULL DEFAULT 0
);
-- The head of each destination's queue.
CREATE INDEX deliveries_queue ON deliveries (channel, destination, id) WHERE status = 'queued';
CREATE INDEX deliveries_message ON deliveries (message_id);

-- Who may deliver for a destination now: one node at a time.
CREATE TABLE destination_leases (
	channel     TEXT NOT NULL,
	destination TEXT NOT NULL,
	owner       TEXT NOT NULL,
	until       BIGINT NOT NULL,
	PRIMARY KEY (channel, destination)
);
