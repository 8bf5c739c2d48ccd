// Package sqldb implements concord.Store once over SQL, for the SQLite and
// PostgreSQL adapters beside it. The adapters open connections and supply a
// Querier for reads and a way to begin write transactions; this package
// holds every query, the migration runner and the group-commit writer.
//
// SQL is written once with $1-style placeholders, which both engines bind
// by position. Times are stored as BIGINT microseconds since the Unix epoch
// (UTC) so that values hash and compare identically on both engines.
package sqldb
