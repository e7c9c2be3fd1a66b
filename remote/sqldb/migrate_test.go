package sqldb_test

import (
	"context"
	"path/filepath"
	"testing"

	"ssu-kiosk/remote/sqldb"
)

// Each version runs once; two stores in one database keep their own record.
func TestMigrateOnceEach(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.OpenSQLite(ctx, sqldb.SQLite{Path: filepath.Join(t.TempDir(), "m.db"), Durability: sqldb.Full})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a := []sqldb.Migration{
		{Version: 1, Statements: []string{`CREATE TABLE a (v INTEGER)`}},
		{Version: 2, Statements: []string{`INSERT INTO a VALUES (1)`}},
	}
	b := []sqldb.Migration{{Version: 1, Statements: []string{`CREATE TABLE b (v INTEGER)`}}}
	for i := 0; i < 2; i++ {
		if err := sqldb.Migrate(ctx, db, false, "a_migrations", a); err != nil {
			t.Fatal(err)
		}
		if err := sqldb.Migrate(ctx, db, false, "b_migrations", b); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM a`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("version 2 ran %d times (%v), want once", n, err)
	}
	if err := sqldb.Migrate(ctx, db, false, "x; DROP TABLE a", a); err == nil {
		t.Fatal("a table name that is SQL was taken")
	}
}
