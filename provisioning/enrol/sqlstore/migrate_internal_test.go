package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"ssu-kiosk/provisioning/enrol"
	"ssu-kiosk/remote/sqldb"
)

// A database the store made before it kept schema versions opens as it is, its tokens intact.
func TestOpenUnversionedDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "enrol.db")
	db, err := sqldb.OpenSQLite(ctx, sqldb.SQLite{Path: path, Durability: sqldb.Full})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, schemaV1); err != nil { // what OpenSQLite used to run
		t.Fatal(err)
	}
	tok, _ := enrol.NewAdminToken()
	d := enrol.DigestOf(tok)
	now := time.UnixMilli(time.Now().UnixMilli())
	if _, err := db.ExecContext(ctx, `INSERT INTO enrol_tokens (digest, site, ward, created_ms, expires_ms) VALUES (?, 'S', 'W', ?, ?)`,
		d.String(), now.UnixMilli(), now.Add(time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.token(ctx, d); err != nil {
		t.Fatalf("the token made before versioning: %v", err)
	}
}
