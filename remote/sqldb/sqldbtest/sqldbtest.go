// Package sqldbtest gives tests a database of their own in the machine's PostgreSQL: a fresh schema,
// dropped when the test ends. It is for tests only; production code must never import it.
package sqldbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"ssu-kiosk/remote/sqldb"
)

// PostgresURL is the PostgreSQL the tests use: FLEET_TEST_POSTGRES, or else the machine's own
// (127.0.0.1:5432, user postgres, trust auth, database test).
func PostgresURL() string {
	if u := os.Getenv("FLEET_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// PostgresSchema makes a schema named prefix_<random> and returns a URL whose connections use it. It
// fails the test, naming the Debian package, when PostgreSQL is not there.
func PostgresSchema(tb testing.TB, prefix string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Normal: a test's schema is thrown away.
	admin, err := sqldb.OpenPostgres(ctx, sqldb.Postgres{URL: PostgresURL(), Durability: sqldb.Normal, MaxOpen: 1})
	if err != nil {
		tb.Fatalf("PostgreSQL is needed on 127.0.0.1:5432 (user postgres, database test, trust auth); install and start the Debian package postgresql: %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := prefix + "_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			tb.Errorf("drop schema: %v", err)
		}
		admin.Close()
	})
	u, err := url.Parse(PostgresURL())
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
