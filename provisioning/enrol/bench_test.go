package enrol_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"ssu-kiosk/provisioning/enrol"
	"ssu-kiosk/provisioning/enrol/sqlstore"
)

// BenchmarkEnrol measures one kiosk's enrolment end to end over TLS (a fresh connection each time,
// as a kiosk makes): token creation (an admin request), key generation, CSR, signing, SQLite bookkeeping (synchronous
// writes), and the atomic writing of six files.
func BenchmarkEnrol(b *testing.B) {
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "enrol.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	f := newFleet(b, fleetOptions{store: st})
	ctx := context.Background()
	root := b.TempDir()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		f.https.Client().CloseIdleConnections()
		tok := f.token(b, "Site", "Ward")
		dev := enrol.Device{Dir: filepath.Join(root, strconv.Itoa(i))}
		if _, err := dev.Enrol(ctx, f.client, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenew measures a forced renewal (same key) over TLS with the SQLite store.
func BenchmarkRenew(b *testing.B) {
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "enrol.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	f := newFleet(b, fleetOptions{store: st})
	ctx := context.Background()
	dev := enrol.Device{Dir: b.TempDir()}
	if _, err := dev.Enrol(ctx, f.client, f.token(b, "Site", "Ward")); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := dev.Renew(ctx, f.client, 0, true); err != nil {
			b.Fatal(err)
		}
	}
}
