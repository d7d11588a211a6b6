package store

// migrations are applied in order; PRAGMA user_version records how many ran.
var sqliteMigrations = []string{`
CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	username      TEXT NOT NULL UNIQUE,
	password_hash BLOB NOT NULL,
	admin         INTEGER NOT NULL,
	created_at    INTEGER NOT NULL
);
CREATE TABLE tokens (
	id           TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	kind         TEXT NOT NULL,
	cluster_id   TEXT NOT NULL DEFAULT '',
	description  TEXT NOT NULL DEFAULT '',
	salt         BLOB NOT NULL,
	hash         BLOB NOT NULL,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	last_used_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tokens_user ON tokens(user_id);
CREATE TABLE clusters (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
);
CREATE TABLE registration_tokens (
	id         TEXT PRIMARY KEY,
	cluster_id TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
	salt       BLOB NOT NULL,
	hash       BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX registration_tokens_cluster ON registration_tokens(cluster_id);
`, `
-- Which kind of agent a registration token admits: 'cluster' or 'node'.
ALTER TABLE registration_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'cluster';
`, `
-- The last status the cluster controller gathered, as JSON.
CREATE TABLE cluster_status (
	cluster_id TEXT PRIMARY KEY REFERENCES clusters(id) ON DELETE CASCADE,
	status     TEXT NOT NULL,
	updated_at INTEGER NOT NULL
);
`, `
-- The authorized cluster endpoint: where users reach the apiserver directly.
ALTER TABLE clusters ADD COLUMN ace_url TEXT NOT NULL DEFAULT '';
ALTER TABLE clusters ADD COLUMN ace_ca TEXT NOT NULL DEFAULT '';
`, `
-- Cluster drivers installed from a URL (built-in ones come from --driver-dir).
CREATE TABLE drivers (
	name       TEXT PRIMARY KEY,
	url        TEXT NOT NULL,
	checksum   TEXT NOT NULL,
	address    TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
-- Clusters a driver provisions: the driver's state and Drover's progress.
-- op is the operation asked for (create, update, remove; '' when done);
-- each request bumps generation, and the controller only records the end
-- of an operation whose generation is still current. config, info and
-- error are sealed (AES-GCM) by package provision.
CREATE TABLE cluster_provisioning (
	cluster_id TEXT PRIMARY KEY REFERENCES clusters(id) ON DELETE CASCADE,
	driver     TEXT NOT NULL,
	generation INTEGER NOT NULL DEFAULT 1,
	op         TEXT NOT NULL DEFAULT '',
	phase      TEXT NOT NULL,
	message    TEXT NOT NULL DEFAULT '',
	error      BLOB,
	config     BLOB NOT NULL,
	info       BLOB,
	updated_at INTEGER NOT NULL
);
CREATE INDEX cluster_provisioning_driver ON cluster_provisioning(driver);
`, `
-- Identity and access. Users come from a provider ('local' or a configured
-- auth provider's name); external users are keyed by (provider,
-- external_id) and carry their provider's groups, prefixed, in user_groups.
ALTER TABLE users ADD COLUMN provider TEXT NOT NULL DEFAULT 'local';
ALTER TABLE users ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN groups_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
-- A sealed refresh credential (OIDC refresh token, GitHub access token).
ALTER TABLE users ADD COLUMN refresh BLOB;
CREATE UNIQUE INDEX users_external ON users(provider, external_id) WHERE provider != 'local';
CREATE TABLE user_groups (
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	grp     TEXT NOT NULL,
	PRIMARY KEY (user_id, grp)
);
CREATE INDEX user_groups_grp ON user_groups(grp);
-- Configured auth providers; config is sealed (it holds bind passwords and
-- client secrets).
CREATE TABLE auth_providers (
	name       TEXT PRIMARY KEY,
	type       TEXT NOT NULL,
	config     BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
-- A project is a named set of namespaces in one cluster.
CREATE TABLE projects (
	id         TEXT PRIMARY KEY,
	cluster_id TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	namespaces TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	UNIQUE (cluster_id, name)
);
-- A binding gives a user (by id) or a group (by name) a role: global
-- (no cluster), on a cluster, or on a project (cluster_id is the project's).
CREATE TABLE bindings (
	id           TEXT PRIMARY KEY,
	scope        TEXT NOT NULL,
	cluster_id   TEXT REFERENCES clusters(id) ON DELETE CASCADE,
	project_id   TEXT REFERENCES projects(id) ON DELETE CASCADE,
	role         TEXT NOT NULL,
	subject_kind TEXT NOT NULL,
	subject      TEXT NOT NULL,
	created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX bindings_unique ON bindings(scope, ifnull(cluster_id, ''), ifnull(project_id, ''), role, subject_kind, subject);
CREATE INDEX bindings_cluster ON bindings(cluster_id);
CREATE INDEX bindings_subject ON bindings(subject_kind, subject);
CREATE TRIGGER users_delete_bindings AFTER DELETE ON users BEGIN
	DELETE FROM bindings WHERE subject_kind = 'user' AND subject = OLD.id;
END;
-- Global admins become global bindings; the column goes.
INSERT INTO bindings (id, scope, role, subject_kind, subject, created_at)
	SELECT 'b-admin-' || id, 'global', 'admin', 'user', id, created_at FROM users WHERE admin != 0;
ALTER TABLE users DROP COLUMN admin;
`, `
-- Group refresh of external users. login is the provider's current name
-- for the user (the username stays as created: it is the Kubernetes
-- identity downstream RBAC names); refresh_attempted_at is when a refresh
-- was last tried, whatever came of it, so users whose refresh keeps failing
-- go to the back of the queue.
ALTER TABLE users ADD COLUMN login TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN refresh_attempted_at INTEGER NOT NULL DEFAULT 0;
UPDATE users SET login = substr(username, length(provider) + 2)
	WHERE provider != 'local' AND substr(username, 1, length(provider) + 1) = provider || ':';
CREATE INDEX users_refresh ON users(provider, refresh_attempted_at);
`, `
-- A namespace belongs to at most one project of a cluster; the key makes
-- that hold under concurrent writes (projects.namespaces keeps the order).
CREATE TABLE project_namespaces (
	project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
	cluster_id TEXT NOT NULL,
	namespace  TEXT NOT NULL,
	PRIMARY KEY (cluster_id, namespace)
);
WITH RECURSIVE split(project_id, cluster_id, ns, rest) AS (
	SELECT id, cluster_id, '', namespaces || char(10) FROM projects
	UNION ALL
	SELECT project_id, cluster_id, substr(rest, 1, instr(rest, char(10)) - 1), substr(rest, instr(rest, char(10)) + 1)
	FROM split WHERE rest != ''
)
INSERT OR IGNORE INTO project_namespaces (project_id, cluster_id, namespace)
	SELECT project_id, cluster_id, ns FROM split WHERE ns != '';
`, `
-- A token minted with another token records it: an API token never gets
-- more scope or a later expiry than the token that minted it.
ALTER TABLE tokens ADD COLUMN parent_id TEXT NOT NULL DEFAULT '';
-- Until now a token scoped to one cluster (every kubeconfig token) could mint
-- an unscoped API token. Which ones it did was not recorded, so every
-- unscoped API token created at or after the first cluster-scoped token still
-- on record for its user is revoked: it may have been.
DELETE FROM tokens WHERE kind = 'api' AND cluster_id = '' AND created_at >= (
	SELECT MIN(t.created_at) FROM tokens t WHERE t.user_id = tokens.user_id AND t.cluster_id != '');
`, `
-- The apiserver endpoint and CA the cluster agent last reported: node
-- agents carry traffic only to these.
ALTER TABLE clusters ADD COLUMN agent_endpoint TEXT NOT NULL DEFAULT '';
ALTER TABLE clusters ADD COLUMN agent_ca TEXT NOT NULL DEFAULT '';
`, `
-- Registration tokens form families (see RegistrationToken): each mint of a
-- cluster's registration starts a generation; a token minted through another
-- (a generation's node token) records its parent, shares its generation and
-- ends with it; a rotation ends every earlier generation.
ALTER TABLE registration_tokens ADD COLUMN parent_id TEXT NOT NULL DEFAULT '';
ALTER TABLE registration_tokens ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
-- Tokens made before: each cluster token started a generation, and a token
-- belongs to the newest one started when it was made. Their parents were
-- not recorded.
UPDATE registration_tokens SET generation = (SELECT COUNT(*) FROM registration_tokens c
	WHERE c.cluster_id = registration_tokens.cluster_id AND c.kind = 'cluster' AND c.created_at <= registration_tokens.created_at);
CREATE UNIQUE INDEX registration_tokens_child ON registration_tokens(parent_id, kind) WHERE parent_id != '';
CREATE INDEX registration_tokens_generation ON registration_tokens(cluster_id, generation);
`, `
-- Deleting a token deletes the tokens minted with it (deleteTokens), found
-- by their parent.
CREATE INDEX tokens_parent ON tokens(parent_id) WHERE parent_id != '';
`, `
-- Server replicas sharing one database: each process registers with the
-- URL its peers reach it by and the hash of its peer credential, beats
-- every second (the database's clock, so replicas' clocks do not matter),
-- and is forgotten a few seconds after its last beat.
CREATE TABLE replicas (
	id           TEXT PRIMARY KEY,
	url          TEXT NOT NULL,
	peer_salt    BLOB NOT NULL,
	peer_hash    BLOB NOT NULL,
	version      TEXT NOT NULL DEFAULT '',
	started_at   INTEGER NOT NULL,
	heartbeat_at INTEGER NOT NULL
);
-- Which replica holds a cluster's agent tunnels, by agent kind, so that a
-- request reaching another replica goes to it.
CREATE TABLE cluster_tunnels (
	cluster_id   TEXT NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
	replica_id   TEXT NOT NULL REFERENCES replicas(id) ON DELETE CASCADE,
	kind         TEXT NOT NULL,
	sessions     INTEGER NOT NULL,
	connected_at INTEGER NOT NULL,
	PRIMARY KEY (cluster_id, replica_id, kind)
);
CREATE INDEX cluster_tunnels_replica ON cluster_tunnels(replica_id);
-- What every replica of the service shares, sealed with the secrets key:
-- the CA, the session signing keys, a check that the key is the same.
CREATE TABLE service_identity (
	name       TEXT PRIMARY KEY,
	value      BLOB NOT NULL,
	updated_at INTEGER NOT NULL
);
`, `
-- Leases: what must run on one server replica at a time (a cluster's
-- controller, the group refresh, provisioning) is done by the holder of
-- its lease. fence grows with every new holder; writes made under a lease
-- name it, and a fence that is no longer current writes nothing.
CREATE TABLE leases (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	fence      INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
-- Secrets spent once (the states of redirect logins, the codes of the
-- drover command's logins), by digest, until they could no longer be
-- presented anyway: shared, so that no replica honours one twice.
CREATE TABLE spent_secrets (
	digest     BLOB PRIMARY KEY,
	expires_at INTEGER NOT NULL
);
CREATE INDEX spent_secrets_expiry ON spent_secrets(expires_at);
-- Rate limits shared by replicas (GCRA): per key (a digest: keys may be
-- usernames), the theoretical arrival time of the next request.
CREATE TABLE rate_limits (
	digest BLOB PRIMARY KEY,
	tat    INTEGER NOT NULL
);
CREATE INDEX rate_limits_tat ON rate_limits(tat);
`}
