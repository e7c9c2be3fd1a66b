package outbox

import (
	"context"
	"path/filepath"
	"testing"

	"ssu-kiosk/remote/sqldb"
)

// An outbox made before the outbox kept schema versions opens as it is, its events still there.
func TestOpenUnversionedOutbox(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.db")
	db, err := sqldb.OpenSQLite(ctx, sqldb.SQLite{Path: path, Durability: sqldb.Full})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, schemaV1); err != nil { // what Open used to run
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO events (id, payload) VALUES ('e1', x'7b7d')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	o, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.depth != 1 {
		t.Fatalf("depth %d after reopening, want the 1 event made before", o.depth)
	}
}
