package store

// postgresBase is the logical schema version postgresMigrations[0] brings
// a PostgreSQL database to: the SQLite list's first postgresBase
// migrations in one. Each later change appends one migration to both
// lists, so a schema version means the same tables in either dialect
// (TestDialectsAgree).
const postgresBase = 12

// postgresAdditive are the schema versions whose migration only adds
// (tables, indexes, columns with a default): a server that predates one
// still runs on a database that has it, which a rolling upgrade needs (old
// and new replicas on one database, and an old one restarting mid-roll).
// Anything else (dropping, renaming, rewriting rows) is left out, and
// servers older than it refuse the database. TestAdditiveMigrations checks
// the claim statement by statement.
var postgresAdditive = map[int]bool{13: true, 14: true}

// postgresMigrations are PostgreSQL's migrations; drover_schema records the
// logical version reached. Times are Unix milliseconds (BIGINT), flags 0 or
// 1 (INTEGER), as in SQLite, so the same queries serve both. Text compares
// byte-wise (COLLATE "C") as SQLite's does, whatever the database's locale.
var postgresMigrations = []string{`
CREATE TABLE users (
	id                   TEXT COLLATE "C" PRIMARY KEY,
	username             TEXT COLLATE "C" NOT NULL UNIQUE,
	password_hash        BYTEA NOT NULL,
	created_at           BIGINT NOT NULL,
	provider             TEXT COLLATE "C" NOT NULL DEFAULT 'local',
	external_id          TEXT COLLATE "C" NOT NULL DEFAULT '',
	display_name         TEXT COLLATE "C" NOT NULL DEFAULT '',
	groups_at            BIGINT NOT NULL DEFAULT 0,
	disabled             INTEGER NOT NULL DEFAULT 0,
	refresh              BYTEA,
	login                TEXT COLLATE "C" NOT NULL DEFAULT '',
	refresh_attempted_at BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX users_external ON users(provider, external_id) WHERE provider != 'local';
CREATE INDEX users_refresh ON users(provider, refresh_attempted_at);
CREATE TABLE tokens (
	id           TEXT COLLATE "C" PRIMARY KEY,
	user_id      TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	kind         TEXT COLLATE "C" NOT NULL,
	cluster_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
	description  TEXT COLLATE "C" NOT NULL DEFAULT '',
	salt         BYTEA NOT NULL,
	hash         BYTEA NOT NULL,
	created_at   BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL,
	last_used_at BIGINT NOT NULL DEFAULT 0,
	parent_id    TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX tokens_user ON tokens(user_id);
CREATE INDEX tokens_parent ON tokens(parent_id) WHERE parent_id != '';
CREATE TABLE clusters (
	id             TEXT COLLATE "C" PRIMARY KEY,
	name           TEXT COLLATE "C" NOT NULL UNIQUE,
	created_at     BIGINT NOT NULL,
	ace_url        TEXT COLLATE "C" NOT NULL DEFAULT '',
	ace_ca         TEXT COLLATE "C" NOT NULL DEFAULT '',
	agent_endpoint TEXT COLLATE "C" NOT NULL DEFAULT '',
	agent_ca       TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE TABLE registration_tokens (
	id         TEXT COLLATE "C" PRIMARY KEY,
	cluster_id TEXT COLLATE "C" NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
	salt       BYTEA NOT NULL,
	hash       BYTEA NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	kind       TEXT COLLATE "C" NOT NULL DEFAULT 'cluster',
	parent_id  TEXT COLLATE "C" NOT NULL DEFAULT '',
	generation BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX registration_tokens_cluster ON registration_tokens(cluster_id);
CREATE UNIQUE INDEX registration_tokens_child ON registration_tokens(parent_id, kind) WHERE parent_id != '';
CREATE INDEX registration_tokens_generation ON registration_tokens(cluster_id, generation);
CREATE TABLE cluster_status (
	cluster_id TEXT COLLATE "C" PRIMARY KEY REFERENCES clusters(id) ON DELETE CASCADE,
	status     TEXT COLLATE "C" NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE TABLE drivers (
	name       TEXT COLLATE "C" PRIMARY KEY,
	url        TEXT COLLATE "C" NOT NULL,
	checksum   TEXT COLLATE "C" NOT NULL,
	address    TEXT COLLATE "C" NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE TABLE cluster_provisioning (
	cluster_id TEXT COLLATE "C" PRIMARY KEY REFERENCES clusters(id) ON DELETE CASCADE,
	driver     TEXT COLLATE "C" NOT NULL,
	generation BIGINT NOT NULL DEFAULT 1,
	op         TEXT COLLATE "C" NOT NULL DEFAULT '',
	phase      TEXT COLLATE "C" NOT NULL,
	message    TEXT COLLATE "C" NOT NULL DEFAULT '',
	error      BYTEA,
	config     BYTEA NOT NULL,
	info       BYTEA,
	updated_at BIGINT NOT NULL
);
CREATE INDEX cluster_provisioning_driver ON cluster_provisioning(driver);
CREATE TABLE user_groups (
	user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	grp     TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (user_id, grp)
);
CREATE INDEX user_groups_grp ON user_groups(grp);
CREATE TABLE auth_providers (
	name       TEXT COLLATE "C" PRIMARY KEY,
	type       TEXT COLLATE "C" NOT NULL,
	config     BYTEA NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE TABLE projects (
	id         TEXT COLLATE "C" PRIMARY KEY,
	cluster_id TEXT COLLATE "C" NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
	name       TEXT COLLATE "C" NOT NULL,
	namespaces TEXT COLLATE "C" NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	UNIQUE (cluster_id, name)
);
CREATE TABLE bindings (
	id           TEXT COLLATE "C" PRIMARY KEY,
	scope        TEXT COLLATE "C" NOT NULL,
	cluster_id   TEXT COLLATE "C" REFERENCES clusters(id) ON DELETE CASCADE,
	project_id   TEXT COLLATE "C" REFERENCES projects(id) ON DELETE CASCADE,
	role         TEXT COLLATE "C" NOT NULL,
	subject_kind TEXT COLLATE "C" NOT NULL,
	subject      TEXT COLLATE "C" NOT NULL,
	created_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX bindings_unique ON bindings(scope, coalesce(cluster_id, ''), coalesce(project_id, ''), role, subject_kind, subject);
CREATE INDEX bindings_cluster ON bindings(cluster_id);
CREATE INDEX bindings_subject ON bindings(subject_kind, subject);
CREATE FUNCTION users_delete_bindings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM bindings WHERE subject_kind = 'user' AND subject = OLD.id;
	RETURN OLD;
END
$$;
CREATE TRIGGER users_delete_bindings AFTER DELETE ON users
	FOR EACH ROW EXECUTE FUNCTION users_delete_bindings();
CREATE TABLE project_namespaces (
	project_id TEXT COLLATE "C" NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
	cluster_id TEXT COLLATE "C" NOT NULL,
	namespace  TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (cluster_id, namespace)
);
`, `
-- Server replicas sharing one database: each process registers with the
-- URL its peers reach it by and the hash of its peer credential, beats
-- every second (the database's clock, so replicas' clocks do not matter),
-- and is forgotten a few seconds after its last beat.
CREATE TABLE replicas (
	id           TEXT COLLATE "C" PRIMARY KEY,
	url          TEXT COLLATE "C" NOT NULL,
	peer_salt    BYTEA NOT NULL,
	peer_hash    BYTEA NOT NULL,
	version      TEXT COLLATE "C" NOT NULL DEFAULT '',
	started_at   BIGINT NOT NULL,
	heartbeat_at BIGINT NOT NULL
);
-- Which replica holds a cluster's agent tunnels, by agent kind, so that a
-- request reaching another replica goes to it.
CREATE TABLE cluster_tunnels (
	cluster_id   TEXT COLLATE "C" NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
	replica_id   TEXT COLLATE "C" NOT NULL REFERENCES replicas(id) ON DELETE CASCADE,
	kind         TEXT COLLATE "C" NOT NULL,
	sessions     INTEGER NOT NULL,
	connected_at BIGINT NOT NULL,
	PRIMARY KEY (cluster_id, replica_id, kind)
);
CREATE INDEX cluster_tunnels_replica ON cluster_tunnels(replica_id);
-- What every replica of the service shares, sealed with the secrets key:
-- the CA, the session signing keys, a check that the key is the same.
CREATE TABLE service_identity (
	name       TEXT COLLATE "C" PRIMARY KEY,
	value      BYTEA NOT NULL,
	updated_at BIGINT NOT NULL
);
`, `
-- Leases: what must run on one server replica at a time (a cluster's
-- controller, the group refresh, provisioning) is done by the holder of
-- its lease. fence grows with every new holder; writes made under a lease
-- name it, and a fence that is no longer current writes nothing.
CREATE TABLE leases (
	name       TEXT COLLATE "C" PRIMARY KEY,
	holder     TEXT COLLATE "C" NOT NULL,
	fence      BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
-- Secrets spent once (the states of redirect logins, the codes of the
-- drover command's logins), by digest, until they could no longer be
-- presented anyway: shared, so that no replica honours one twice.
CREATE TABLE spent_secrets (
	digest     BYTEA PRIMARY KEY,
	expires_at BIGINT NOT NULL
);
CREATE INDEX spent_secrets_expiry ON spent_secrets(expires_at);
-- Rate limits shared by replicas (GCRA): per key (a digest: keys may be
-- usernames), the theoretical arrival time of the next request.
CREATE TABLE rate_limits (
	digest BYTEA PRIMARY KEY,
	tat    BIGINT NOT NULL
);
CREATE INDEX rate_limits_tat ON rate_limits(tat);
`}
