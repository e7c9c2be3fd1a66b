// Package storetest opens fleet-server stores for tests: a SQLite file in a temporary directory, or a
// fresh schema in the machine's PostgreSQL (127.0.0.1:5432, user postgres, database test; override with
// FLEET_TEST_POSTGRES), dropped when the test ends so tests can run concurrently. A missing PostgreSQL
// fails the test naming the Debian package; it is never skipped.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"ssu-kiosk/remote/fleetserver/store"
)

// PostgresURL is the server tests use.
func PostgresURL() string {
	if u := os.Getenv("FLEET_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

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
func PostgresDSN(t testing.TB) string {
	t.Helper()
	admin, err := sql.Open("pgx", PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		t.Fatalf("PostgreSQL at %s is not reachable (install and start the Debian package postgresql, trust auth for user postgres, database test): %v", PostgresURL(), err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "fleet_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	return PostgresURL() + "&search_path=" + schema
}

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
