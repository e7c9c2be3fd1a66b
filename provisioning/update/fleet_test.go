package update_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"ssu-kiosk/provisioning/update"
)

func TestVerifyForPublishing(t *testing.T) {
	f := newFixture(t)
	good := bundle(t, f.good, f.root, "v1.3.0", compatible, filepath.Join(f.dir, "good.raucb"))
	v, err := f.rauc.Verify(t.Context(), good)
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != "v1.3.0" || v.Signer != "CN=ssu-kiosk test good" {
		t.Fatalf("verified %+v", v)
	}
	other := newSigner(t, f.dir, "other")
	foreign := bundle(t, other, f.root, "v1.3.0", compatible, filepath.Join(f.dir, "foreign.raucb"))
	if _, err := f.rauc.Verify(t.Context(), foreign); !errors.Is(err, update.ErrSignature) {
		t.Fatalf("a bundle signed by another key: %v", err)
	}
	data, _ := os.ReadFile(good)
	data[len(data)/3] ^= 0xff // in the payload
	corrupt := filepath.Join(f.dir, "corrupt.raucb")
	os.WriteFile(corrupt, data, 0o644)
	if _, err := f.rauc.Verify(t.Context(), corrupt); !errors.Is(err, update.ErrCorrupt) {
		t.Fatalf("a corrupt payload: %v", err)
	}
	f.scratchEmpty(t)
}

func TestFleetInstallerRefusesAnotherVersion(t *testing.T) {
	f := newFixture(t)
	b := bundle(t, f.good, f.root, "v1.3.0", compatible, filepath.Join(f.dir, "b.raucb"))
	in := update.FleetInstaller{Rauc: f.rauc, System: f.sys}
	if err := in.Install(t.Context(), b, "v1.4.0", false); err == nil {
		t.Fatal("installed a bundle that is not the version the command named")
	}
	if err := in.Install(t.Context(), b, "v1.3.0", false); err != nil {
		t.Fatal(err)
	}
	if f.installs(t) != 1 {
		t.Fatalf("%d installs; want 1", f.installs(t))
	}
}
