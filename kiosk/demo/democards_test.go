package demo

import (
	"crypto/x509"
	"encoding/csv"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/hal/vcard"
)

var updateDemoCards = flag.Bool("update-demo-cards", false, "regenerate testdata/demo/cards and the card_serial column of testdata/demo/profiles.csv")

const testdata = "../../testdata"

// demoCards are the demo's cards: file, holder UUID (a row of profiles.csv), locked, expired.
var demoCards = []struct {
	file, uuid      string
	locked, expired bool
}{
	{"1-locked.json", "555000000001", true, false},
	{"2-expired.json", "555000000002", true, true},
	{"3-no-email.json", "555000000003", true, false},
	{"4-unlocked.json", "555000000004", false, false},
}

// Demo card passcodes (test cards only): the PIN before unlocking, and the PUK that profiles.csv holds as
// the SOPIN.
const (
	demoPIN = "314159"
	demoPUK = "12345678"
)

func readProfiles(t *testing.T) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(testdata, "demo", "profiles.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "uuid,name,email,mobile,card_serial,sopin" {
		t.Fatalf("profiles.csv header changed: %v", rows[0])
	}
	return rows
}

// TestDemoCards checks the committed demo cards against profiles.csv and the card CA; with
// -update-demo-cards it makes them again (go test ./kiosk/demo -run TestDemoCards -update-demo-cards).
func TestDemoCards(t *testing.T) {
	rows := readProfiles(t)
	byUUID := map[string][]string{}
	for _, r := range rows[1:] {
		byUUID[r[0]] = r
	}
	dir := filepath.Join(testdata, "demo", "cards")
	if *updateDemoCards {
		ca, err := vcard.LoadCA(filepath.Join(testdata, "pki"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, c := range demoCards {
			row := byUUID[c.uuid]
			opts := vcard.CreateOptions{HolderUUID: c.uuid, Name: row[1], PIN: []byte(demoPIN), PUK: []byte(row[5]),
				NotBefore: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2030, 12, 31, 0, 0, 0, 0, time.UTC), CA: ca}
			if c.expired {
				opts.NotAfter = time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)
			}
			st, err := vcard.Create(opts)
			if err != nil {
				t.Fatal(err)
			}
			if c.locked {
				st.PINTriesLeft = 0
			}
			if err := st.Save(filepath.Join(dir, c.file)); err != nil {
				t.Fatal(err)
			}
			row[4] = st.Serial()
		}
		f, err := os.Create(filepath.Join(testdata, "demo", "profiles.csv"))
		if err != nil {
			t.Fatal(err)
		}
		w := csv.NewWriter(f)
		if err := w.WriteAll(rows); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	caPEM, err := os.ReadFile(filepath.Join(testdata, "pki", "card-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	for _, c := range demoCards {
		st, err := vcard.LoadState(filepath.Join(dir, c.file))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		row := byUUID[c.uuid]
		if row == nil || row[4] != st.Serial() || st.HolderUUID != c.uuid || string(st.PUK) != row[5] {
			t.Errorf("%s: serial %s, holder %s do not match profiles.csv row %v (or the PUK is not the SOPIN)", c.file, st.Serial(), st.HolderUUID, row[:2])
		}
		if (st.PINTriesLeft == 0) != c.locked {
			t.Errorf("%s: PIN tries left %d, locked should be %v", c.file, st.PINTriesLeft, c.locked)
		}
		cert, err := st.Certificate(0x9a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: cert.NotBefore.Add(time.Hour),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s: certificate not issued by the card CA: %v", c.file, err)
		}
		if expired := time.Now().After(cert.NotAfter); expired != c.expired {
			t.Errorf("%s: expired %v, want %v", c.file, expired, c.expired)
		}
	}
}
