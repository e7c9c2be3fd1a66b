// Package storetest opens fleet-server stores for tests: a SQLite file in a temporary directory, or a
// fresh schema in the machine's PostgreSQL (127.0.0.1:5432, user postgres, database test; override with
// FLEET_TEST_POSTGRES), dropped when the test ends so tests can run concurrently. A missing PostgreSQL
// fails the test naming the Debian package; it is never skipped.
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"ssu-kiosk/remote/fleetserver/store"
	"ssu-kiosk/remote/sqldb/sqldbtest"
)

// PostgresURL is the server tests use.
func PostgresURL() string { return sqldbtest.PostgresURL() }

// SQLite opens a store in a fresh SQLite file.
func SQLite(t testing.TB, opt store.Options) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "fleet.db"), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// PostgresDSN makes a fresh schema and returns a URL whose connections use it; the schema is dropped
// when the test ends.
func PostgresDSN(t testing.TB) string { return sqldbtest.PostgresSchema(t, "fleet_test") }

// Postgres opens a store in a fresh PostgreSQL schema.
func Postgres(t testing.TB, opt store.Options) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), PostgresDSN(t), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Each runs f once on SQLite and once on PostgreSQL.
func Each(t *testing.T, opt store.Options, f func(t *testing.T, s *store.Store)) {
	t.Run("sqlite", func(t *testing.T) { f(t, SQLite(t, opt)) })
	t.Run("postgres", func(t *testing.T) { f(t, Postgres(t, opt)) })
}
