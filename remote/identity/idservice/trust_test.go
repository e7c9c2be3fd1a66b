package idservice_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"ssu-kiosk/remote/identity/idservice"
	"ssu-kiosk/remote/identity/idtest"
)

// TestPublishedTestCardCAIsRefused: the committed test card CA (its key is public) is trusted only in demo
// mode, and PublishedTestCardCAKey follows the file (if testdata/pki is regenerated, update the constant).
func TestPublishedTestCardCAIsRefused(t *testing.T) {
	committed := filepath.Join("..", "..", "..", "testdata", "pki", "card-ca.pem")
	if _, err := idservice.LoadCardCAs(committed, false); !errors.Is(err, idservice.ErrPublishedTestCA) {
		t.Fatalf("the published test CA outside demo mode: %v", err)
	}
	if _, err := idservice.LoadCardCAs(committed, true); err != nil {
		t.Fatalf("the published test CA in demo mode: %v", err)
	}
	// A bundle that hides it among others is refused too.
	own := idtest.NewCA(t, "Trust Card CA")
	pemTest, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "bundle.pem")
	os.WriteFile(bundle, append(own.PEM(), pemTest...), 0o644)
	if _, err := idservice.LoadCardCAs(bundle, false); !errors.Is(err, idservice.ErrPublishedTestCA) {
		t.Fatalf("a bundle holding the test CA: %v", err)
	}
	only := filepath.Join(t.TempDir(), "own.pem")
	os.WriteFile(only, own.PEM(), 0o644)
	if _, err := idservice.LoadCardCAs(only, false); err != nil {
		t.Fatalf("a trust's own CA: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	os.WriteFile(empty, []byte("nothing"), 0o644)
	if _, err := idservice.LoadCardCAs(empty, false); err == nil {
		t.Fatal("an empty bundle was accepted")
	}
}
