package sqldb_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ssu-kiosk/remote/sqldb"
	"ssu-kiosk/remote/sqldb/sqldbtest"
)

// A file name holding the characters a URI gives meaning to is opened as that very file, and written
// and read back across a reopen.
func TestSQLitePathWithURICharacters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, name := range []string{"a?b.db", "c#d.db", "e%3Ff.db", "g h&_pragma=synchronous(OFF).db"} {
		path := filepath.Join(dir, name)
		o := sqldb.SQLite{Path: path, Durability: sqldb.Full}
		db, err := sqldb.OpenSQLite(ctx, o)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if _, err := db.ExecContext(ctx, `CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('x')`); err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		db.Close()
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("%q: the file is not where its name says: %v", name, err)
		}
		db, err = sqldb.OpenSQLite(ctx, o)
		if err != nil {
			t.Fatalf("%q reopen: %v", name, err)
		}
		var v string
		if err := db.QueryRowContext(ctx, `SELECT v FROM t`).Scan(&v); err != nil || v != "x" {
			t.Fatalf("%q: read back %q, %v", name, v, err)
		}
		db.Close()
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".db") && !strings.HasSuffix(n, "-wal") && !strings.HasSuffix(n, "-shm") {
			t.Errorf("stray file %q", n)
		}
	}
}

// The durability a store states is the one its connections run with, on every connection of the pool.
func TestSQLiteDurabilityIsApplied(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "d.db")
	for d, want := range map[sqldb.Durability]int{sqldb.Full: 2, sqldb.Normal: 1} {
		db, err := sqldb.OpenSQLite(ctx, sqldb.SQLite{Path: path, Durability: d, MaxOpen: 3})
		if err != nil {
			t.Fatal(err)
		}
		conns := make([]interface{ Close() error }, 0, 3)
		for i := 0; i < 3; i++ {
			c, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			var got int
			var fk int
			if err := c.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if err := c.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil {
				t.Fatal(err)
			}
			if got != want || fk != 1 {
				t.Errorf("%s: connection %d: synchronous %d foreign_keys %d, want %d and 1", d, i, got, fk, want)
			}
		}
		for _, c := range conns {
			c.Close()
		}
		db.Close()
	}
}

func TestSQLiteRefuses(t *testing.T) {
	ctx := context.Background()
	for _, o := range []sqldb.SQLite{
		{Path: filepath.Join(t.TempDir(), "x.db")}, // durability not stated
		{Path: ":memory:", Durability: sqldb.Full},
		{Path: "", Durability: sqldb.Full},
	} {
		if db, err := sqldb.OpenSQLite(ctx, o); err == nil {
			db.Close()
			t.Errorf("%+v opened", o)
		}
	}
	if _, err := sqldb.OpenPostgres(ctx, sqldb.Postgres{URL: "postgres://127.0.0.1/test"}); err == nil || !strings.Contains(err.Error(), "durability") {
		t.Errorf("postgres without durability: %v", err)
	}
}

func TestSQLiteReadOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	w, err := sqldb.OpenSQLite(ctx, sqldb.SQLite{Path: path, Durability: sqldb.Full})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.ExecContext(ctx, `CREATE TABLE t (v TEXT)`); err != nil {
		t.Fatal(err)
	}
	r, err := sqldb.OpenSQLite(ctx, sqldb.SQLite{Path: path, Durability: sqldb.Full, ReadOnly: true, MaxOpen: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.ExecContext(ctx, `INSERT INTO t VALUES ('x')`); err == nil {
		t.Fatal("a read-only connection wrote")
	}
}

// A Full store commits with synchronous_commit=on even when the URL asks for off, and its pool keeps
// every connection it opened (no new connection per request once warm).
func TestPostgresDurabilityAndWarmPool(t *testing.T) {
	ctx := context.Background()
	url := sqldbtest.PostgresURL() + "&synchronous_commit=off"
	db, err := sqldb.OpenPostgres(ctx, sqldb.Postgres{URL: url, Durability: sqldb.Full, MaxOpen: 4})
	if err != nil {
		t.Fatalf("%v (PostgreSQL must run on 127.0.0.1:5432: install the Debian package postgresql)", err)
	}
	defer db.Close()
	conns := make([]interface{ Close() error }, 0, 4)
	for i := 0; i < 4; i++ {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var v string
		if err := c.QueryRowContext(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v != "on" {
			t.Errorf("connection %d: synchronous_commit %q, want on", i, v)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	if st := db.Stats(); st.Idle != 4 {
		t.Errorf("%d idle connections after using 4, want 4 kept warm", st.Idle)
	}
}
