-- One-time websocket binding tokens ($get-ws-binding-token, see
-- concord.BindingToken): the SHA-256 of the token, the bearer token ID of
-- who asked for it, the Subscription ids it binds (comma-separated), and
-- when it expires (microseconds). A token is deleted when it is used.
CREATE TABLE ws_binding_tokens (
	hash          TEXT PRIMARY KEY,
	actor         TEXT NOT NULL,
	subscriptions TEXT NOT NULL,
	expires_at    INTEGER NOT NULL
);
-- Expired tokens are deleted by the next take.
CREATE INDEX ws_binding_tokens_expires ON ws_binding_tokens (expires_at);
