-- Interface messages as received (see concord.Message). raw is NULL once
-- retention has dropped the content; the metadata stays.
CREATE TABLE messages (
	id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	channel     TEXT NOT NULL,
	peer        TEXT NOT NULL,
	sender      TEXT NOT NULL,
	received_at BIGINT NOT NULL,
	type        TEXT NOT NULL,
	trigger_ev  TEXT NOT NULL,
	structure   TEXT NOT NULL,
	control_id  TEXT NOT NULL,
	version     TEXT NOT NULL,
	patient_id  TEXT NOT NULL,
	status      TEXT NOT NULL,
	error       TEXT NOT NULL,
	ack_code    TEXT NOT NULL,
	size        INTEGER NOT NULL,
	raw         BYTEA
);
CREATE INDEX messages_channel_received ON messages (channel, received_at);
CREATE INDEX messages_control ON messages (channel, sender, control_id, received_at);
CREATE INDEX messages_received ON messages (received_at);
CREATE INDEX messages_patient ON messages (patient_id) WHERE patient_id <> '';
