package sqlstore_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"ssu-kiosk/provisioning/enrol/enroltest"
	"ssu-kiosk/provisioning/enrol/sqlstore"
)

func TestSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "enrol.db")
	s, err := sqlstore.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	enroltest.TestStore(t, s)
	s.Close()
	// Reopening keeps everything (the schema is created only when missing).
	s, err = sqlstore.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ids, err := s.RevokedKiosks(context.Background()); err != nil || len(ids) != 1 {
		t.Errorf("after reopening: %v, %v", ids, err)
	}
}

func TestPostgres(t *testing.T) {
	s, err := sqlstore.Open(context.Background(), enroltest.PostgresSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	enroltest.TestStore(t, s)
}

func TestOpenRefusesMemory(t *testing.T) {
	for _, dsn := range []string{"", ":memory:"} {
		if _, err := sqlstore.Open(context.Background(), dsn); err == nil || !strings.Contains(err.Error(), "file path") {
			t.Errorf("Open(%q): %v", dsn, err)
		}
	}
}
