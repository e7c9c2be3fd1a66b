package main

import (
	"context"
	"encoding/pem"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ssu-kiosk/provisioning/update"
	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleetserver/releases"
	"ssu-kiosk/remote/fleetserver/rollout"
	"ssu-kiosk/remote/fleetserver/store"
	"ssu-kiosk/remote/fleetserver/store/storetest"
	"ssu-kiosk/remote/fleetserver/web"
)

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s not found: apt-get install %s", name, map[string]string{"rauc": "rauc", "mksquashfs": "squashfs-tools", "mkfs.ext4": "e2fsprogs", "openssl": "openssl"}[name])
	}
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

type dropSender struct{}

func (dropSender) Send(context.Context, string, fleet.Command) error { return nil }

// TestReleasePublish uploads real RAUC bundles through the dashboard's API: one signed by the fleet's
// update key is recorded with its version, size, sha256 and signer; one signed by another key is
// refused with the reason; a viewer may not publish.
func TestReleasePublish(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"fleet", "other"} {
		mustRun(t, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
			"-subj", "/CN=ssu-kiosk "+name+" release", "-keyout", filepath.Join(dir, name+".key"), "-out", filepath.Join(dir, name+".crt"))
	}
	tree := filepath.Join(dir, "tree", "etc")
	os.MkdirAll(tree, 0o755)
	noise := make([]byte, 64<<10)
	f, _ := os.Open("/dev/urandom")
	f.Read(noise)
	f.Close()
	os.WriteFile(filepath.Join(tree, "noise"), noise, 0o644)
	mustRun(t, "mkfs.ext4", "-q", "-d", filepath.Dir(tree), filepath.Join(dir, "root.ext4"), "4M")
	mustRun(t, "mksquashfs", "-version")
	script, _ := filepath.Abs("../../../image/bundle.sh")
	for _, name := range []string{"fleet", "other"} {
		mustRun(t, script, "--cert", filepath.Join(dir, name+".crt"), "--key", filepath.Join(dir, name+".key"),
			"--version", "v1.4.0", "--compatible", "ssu-kiosk-amd64", filepath.Join(dir, "root.ext4"), filepath.Join(dir, name+".raucb"))
	}

	ctx := context.Background()
	st := storetest.SQLite(t, store.Options{})
	hash, _ := web.HashPassword([]byte("release manager password"), web.DefaultKDF)
	st.PutUser(ctx, store.User{Name: "it", Role: web.RoleITAdmin, PasswordHash: hash})
	st.PutUser(ctx, store.User{Name: "view", Role: web.RoleViewer, PasswordHash: hash})
	scratch := filepath.Join(dir, "scratch")
	os.Mkdir(scratch, 0o700)
	cat := &releases.Catalog{Dir: filepath.Join(dir, "releases"), Store: st, BaseURL: "https://fleet.test:8444",
		Verifier: update.Rauc{Keyring: filepath.Join(dir, "fleet.crt"), ScratchDir: scratch}}
	m, err := rollout.NewManager(ctx, rollout.Config{Store: st, Sender: dropSender{}, Fleet: rollout.StoreFleet{Store: st}, Releases: cat})
	if err != nil {
		t.Fatal(err)
	}
	w, err := web.New(web.Config{Store: st, Commands: dropSender{}, Releases: cat, Rollouts: m, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(w)
	defer srv.Close()
	caFile := filepath.Join(dir, "server-ca.pem")
	os.WriteFile(caFile, pemCert(srv.Certificate().Raw), 0o644)
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("release manager password\n"), 0o600)

	out, errs, code := ctl(t, "", "release", "publish", "--server", srv.URL, "--user", "view", "--password-file", pw, "--ca", caFile, filepath.Join(dir, "fleet.raucb"))
	if code != 1 || !strings.Contains(errs, "403") {
		t.Fatalf("a viewer published: %d %q %q", code, out, errs)
	}
	out, errs, code = ctl(t, "", "release", "publish", "--server", srv.URL, "--user", "it", "--password-file", pw, "--ca", caFile, filepath.Join(dir, "other.raucb"))
	if code != 1 || !strings.Contains(errs, "not signed by a trusted key") {
		t.Fatalf("a bundle signed by another key: %d %q %q", code, out, errs)
	}
	out, errs, code = ctl(t, "", "release", "publish", "--server", srv.URL, "--user", "it", "--password-file", pw, "--ca", caFile, filepath.Join(dir, "fleet.raucb"))
	if code != 0 || !strings.Contains(out, "published v1.4.0") || !strings.Contains(out, "signed by CN=ssu-kiosk fleet release") {
		t.Fatalf("publish: %d %q %q", code, out, errs)
	}
	rel, ok, err := st.StoredReleaseByVersion(ctx, "v1.4.0")
	if err != nil || !ok || rel.PublishedBy != "it" {
		t.Fatalf("stored release %+v %v %v", rel, ok, err)
	}
	info, err := os.Stat(filepath.Join(cat.Dir, rel.File))
	if err != nil || info.Size() != rel.Size {
		t.Fatalf("the bundle on disk: %v", err)
	}
	if entries, _ := os.ReadDir(cat.Dir); len(entries) != 1 {
		t.Fatalf("%d files in the release folder; want only the published bundle (the refused one removed)", len(entries))
	}
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
