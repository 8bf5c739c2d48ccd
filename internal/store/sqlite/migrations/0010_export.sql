-- Bulk data export jobs (FHIR Bulk Data Access $export, see concord.ExportJob).
-- params and cursor are the exporter's JSON; times are microseconds.
CREATE TABLE export_jobs (
	id               TEXT PRIMARY KEY,
	requester        TEXT NOT NULL,
	request          TEXT NOT NULL,
	params           TEXT NOT NULL,
	status           TEXT NOT NULL,
	progress         TEXT NOT NULL DEFAULT '',
	error            TEXT NOT NULL DEFAULT '',
	cursor           TEXT NOT NULL DEFAULT '',
	owner            TEXT NOT NULL DEFAULT '',
	lease_until      INTEGER NOT NULL DEFAULT 0,
	transaction_time INTEGER NOT NULL,
	created_at       INTEGER NOT NULL,
	finished_at      INTEGER NOT NULL DEFAULT 0,
	expires_at       INTEGER NOT NULL DEFAULT 0
);
-- Workers look for the oldest job to run; the sweep for expired and deleted ones.
CREATE INDEX export_jobs_status ON export_jobs (status, created_at);

-- The files of each job: NDJSON of one type; kind is output, error
-- (OperationOutcomes) or deleted (Bundles of DELETEs).
CREATE TABLE export_files (
	job_id  TEXT NOT NULL,
	file_no INTEGER NOT NULL,
	type    TEXT NOT NULL,
	kind    TEXT NOT NULL,
	count   INTEGER NOT NULL DEFAULT 0,
	bytes   INTEGER NOT NULL DEFAULT 0,
	chunks  INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (job_id, file_no)
);

-- The files' content in chunks of whole lines (about 1 MiB each), so that
-- every node sharing the database can serve them and a restart keeps them.
CREATE TABLE export_chunks (
	job_id   TEXT NOT NULL,
	file_no  INTEGER NOT NULL,
	chunk_no INTEGER NOT NULL,
	data     BLOB NOT NULL,
	PRIMARY KEY (job_id, file_no, chunk_no)
);
