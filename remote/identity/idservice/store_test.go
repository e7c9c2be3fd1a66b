package idservice_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"ssu-kiosk/remote/identity/idservice"
)

// rawDB opens the store's database directly, as an attacker with file or SQL access would.
func rawDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	driver, name := "sqlite", dsn
	if strings.HasPrefix(dsn, "postgres") {
		driver = "pgx"
	}
	db, err := sql.Open(driver, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStore(t *testing.T) {
	backends(t, func(t *testing.T, newDSN func(*testing.T) string) {
		ctx := context.Background()
		dsn := newDSN(t)
		st, err := idservice.OpenStore(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		st, err = idservice.OpenStore(ctx, dsn) // migrations run once
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer st.Close()
		db := rawDB(t, dsn)
		var version int
		if err := db.QueryRow(`SELECT MAX(version) FROM schema_migrations`).Scan(&version); err != nil || version != idservice.SchemaVersion() {
			t.Fatalf("schema version %d %v", version, err)
		}

		sealer, _ := idservice.NewSealer(testKey())
		now := time.Now()
		ra := &idservice.RA{Store: st, Sealer: sealer, Actor: "test"}
		res, err := ra.Import(ctx, strings.NewReader(seedCSV))
		if err != nil || res.Profiles != 4 || res.Cards != 4 {
			t.Fatalf("import: %+v %v", res, err)
		}
		if res, err = ra.Import(ctx, strings.NewReader(seedCSV)); err != nil || res.Profiles != 4 {
			t.Fatalf("re-import: %+v %v", res, err)
		}
		p, err := st.Profile(ctx, samUUID)
		if err != nil || p.Email != samEmail || p.Name != "Sam Example" {
			t.Fatalf("profile: %v", err)
		}
		if _, err := st.Profile(ctx, "nobody"); !errors.Is(err, idservice.ErrNotFound) {
			t.Fatalf("missing profile: %v", err)
		}

		// SOPINs are sealed at rest and bound to their card.
		var sealed []byte
		if err := db.QueryRow(`SELECT sopin_sealed FROM cards WHERE serial = $1`, samSerial).Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(sealed, []byte(testSOPIN)) {
			t.Fatal("SOPIN stored in clear")
		}
		if got, err := sealer.Open(samSerial, sealed); err != nil || string(got) != testSOPIN {
			t.Fatalf("open sealed SOPIN: %v", err)
		}
		if _, err := sealer.Open(joSerial, sealed); err == nil {
			t.Fatal("a sealed SOPIN opened for another card")
		}
		other, _ := idservice.NewSealer(bytes.Repeat([]byte{9}, idservice.KeySize))
		if _, err := other.Open(samSerial, sealed); err == nil {
			t.Fatal("a sealed SOPIN opened with another key")
		}

		// Challenges are single-use.
		if err := st.PutChallenge(ctx, "h1", "k1", now.Add(time.Minute), now); err != nil {
			t.Fatal(err)
		}
		if ok, err := st.TakeChallenge(ctx, "h1", "k1", now); !ok || err != nil {
			t.Fatalf("take: %v %v", ok, err)
		}
		if ok, _ := st.TakeChallenge(ctx, "h1", "k1", now); ok {
			t.Fatal("challenge taken twice")
		}

		// Sessions: sends, wrong codes, one release.
		rec := idservice.SessionRecord{ID: "0123456789abcdef0123456789abcdef", KioskID: "k1", ProfileUUID: samUUID,
			CardSerial: samSerial, CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute), State: "open"}
		if err := st.CreateSession(ctx, rec); err != nil {
			t.Fatal(err)
		}
		hash := sealer.CodeHash(rec.ID, []byte("123456"))
		if n, ok, err := st.RecordSend(ctx, rec.ID, hash, now, 30*time.Second, 3); n != 1 || !ok || err != nil {
			t.Fatalf("send: %d %v %v", n, ok, err)
		}
		if _, ok, _ := st.RecordSend(ctx, rec.ID, nil, now.Add(time.Second), 30*time.Second, 3); ok {
			t.Fatal("send inside the gap allowed")
		}
		got, err := st.Session(ctx, rec.ID)
		if err != nil || !bytes.Equal(got.CodeHash, hash) || got.Sends != 1 || !got.ExpiresAt.Equal(rec.ExpiresAt.Truncate(time.Microsecond)) {
			t.Fatalf("session: %+v %v", got, err)
		}
		if n, ok, err := st.RecordWrongCode(ctx, rec.ID, 5); n != 1 || !ok || err != nil {
			t.Fatalf("wrong: %d %v %v", n, ok, err)
		}
		if ok, err := st.MarkReleased(ctx, rec.ID, hash, now); !ok || err != nil {
			t.Fatalf("release: %v %v", ok, err)
		}
		if ok, _ := st.MarkReleased(ctx, rec.ID, hash, now); ok {
			t.Fatal("released twice")
		}
		if ok, err := st.CompleteSession(ctx, rec.ID, "unlocked", "", now); !ok || err != nil {
			t.Fatalf("complete: %v %v", ok, err)
		}
		if n, _ := st.SessionsSince(ctx, "k1", "", now.Add(-time.Minute)); n != 1 {
			t.Fatalf("kiosk sessions = %d", n)
		}

		// The audit log is append-only.
		if err := st.Audit(ctx, idservice.AuditEntry{At: now, KioskID: "k1", Action: "test", Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`UPDATE audit_log SET outcome = 'forged'`); err == nil {
			t.Error("audit log row updated")
		}
		if _, err := db.Exec(`DELETE FROM audit_log`); err == nil {
			t.Error("audit log row deleted")
		}
		log, err := st.AuditLog(ctx, "", 1)
		if err != nil || len(log) != 1 || log[0].Action != "test" || log[0].Outcome != "ok" {
			t.Fatalf("audit log: %+v %v", log, err)
		}
	})
}

func TestImportRejectsBadFiles(t *testing.T) {
	ctx := context.Background()
	st, err := idservice.OpenStore(ctx, sqliteDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sealer, _ := idservice.NewSealer(testKey())
	ra := &idservice.RA{Store: st, Sealer: sealer, Actor: "test"}
	head := "uuid,name,email,mobile,card_serial,sopin\n"
	good := "555000000001,Sam,sam@nhs.net,,00000000000000000000000000000001,12345678\n"
	for name, tc := range map[string]struct{ file, want string }{
		"header":      {"id,name\n", "header must be"},
		"fields":      {head + good + "555000000002,Two\n", "line 3"},
		"email":       {head + good + "555000000002,Two,not-an-email,,,\n", "line 3, email"},
		"serial":      {head + good + "555000000002,Two,,,xyz,\n", "line 3, card_serial"},
		"sopin":       {head + good + "555000000002,Two,,,00000000000000000000000000000002,secret99\n", "line 3, sopin: must be 8 digits"},
		"sopin alone": {head + "555000000002,Two,,,,12345678\n", "line 2, sopin"},
		"uuid":        {head + ",No Id,,,,\n", "line 2, uuid"},
	} {
		_, err := ra.Import(ctx, strings.NewReader(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "secret99") || strings.Contains(err.Error(), "not-an-email")) {
			t.Errorf("%s: error quotes the data: %v", name, err)
		}
	}
	if _, err := st.Profile(ctx, "555000000001"); !errors.Is(err, idservice.ErrNotFound) {
		t.Fatal("a rejected file wrote a profile")
	}
}

// A database path holding '?' or '#' is that very file: the path used to be pasted into the DSN, so
// "id?x.db" opened "id" with a stray query and "id#x.db" opened "id".
func TestOpenStorePathWithURICharacters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, name := range []string{"id?x.db", "id#x.db"} {
		path := filepath.Join(dir, name)
		st, err := idservice.OpenStore(ctx, path)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		st.Close()
		if _, err := os.Stat(path); err != nil {
			t.Errorf("%q: no file of that name: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "id")); err == nil {
		t.Error(`a file "id" was made instead`)
	}
}
