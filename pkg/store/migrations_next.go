//go:build drover_next_schema

package store

// Built with -tags drover_next_schema, the server has one more migration
// than this source's, an additive one, as the next release would: the
// rolling-upgrade test (test/e2e TestRollingUpgrade) runs it beside the
// plain build on one database.
func init() {
	const next = `
-- The next release's addition (tests only).
CREATE TABLE rolling_upgrade_probe (id TEXT PRIMARY KEY);
`
	sqliteMigrations = append(sqliteMigrations, next)
	postgresMigrations = append(postgresMigrations, next)
	postgresAdditive[postgresBase+len(postgresMigrations)-1] = true
}
