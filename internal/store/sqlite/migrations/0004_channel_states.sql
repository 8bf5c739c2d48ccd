-- Operator-set channel states (started when absent): see concord.ChannelState.
CREATE TABLE channel_states (
	channel    TEXT PRIMARY KEY,
	state      TEXT NOT NULL,
	changed_at INTEGER NOT NULL,
	changed_by TEXT NOT NULL
);
