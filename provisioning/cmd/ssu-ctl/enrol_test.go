package main

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"ssu-kiosk/provisioning/enrol"
	"ssu-kiosk/provisioning/pki"
)

// enrolServer starts an enrolment server over TLS whose admin digest is in the file adminNew
// wrote; it returns the server URL and a CA file trusting it.
func enrolServer(t *testing.T, adminDigest string) (url, caFile string) {
	t.Helper()
	ca, err := pki.NewCA("test fleet CA")
	if err != nil {
		t.Fatal(err)
	}
	digests, err := enrol.ParseAdminDigests(strings.NewReader(adminDigest))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := enrol.NewServer(context.Background(), enrol.Config{
		CA: ca, Store: enrol.NewMemoryStore(), AdminDigests: digests, CRLFile: filepath.Join(t.TempDir(), "crl.pem"),
		Profile: enrol.Profile{IdentityURL: "https://idservice.example:8443", Methods: []string{"email"},
			ServiceCA: ca.CertPEM(), BrokerURL: "ssl://broker.example:8883", CardKey: []byte("0123456789abcdef")},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/enrol/", srv)
	hs := httptest.NewTLSServer(mux)
	t.Cleanup(hs.Close)
	caFile = filepath.Join(t.TempDir(), "server-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return hs.URL, caFile
}

func TestEnrolmentCommands(t *testing.T) {
	adminFile := filepath.Join(t.TempDir(), "admin-token")
	digest, errs, code := ctl(t, "", "token", "admin-new", "--out", adminFile)
	if code != 0 {
		t.Fatalf("admin-new: %s", errs)
	}
	if m := mode(t, adminFile); m != 0o600 {
		t.Errorf("admin token file mode %o", m)
	}
	if _, _, code := ctl(t, "", "token", "admin-new", "--out", adminFile); code == 0 {
		t.Error("admin-new overwrote an existing file")
	}
	url, caFile := enrolServer(t, digest)

	tok, errs, code := ctl(t, "", "token", "create", "--server", url, "--ca", caFile, "--site", "St Example's Hospital",
		"--ward", "Ward 7", "--admin-token-file", adminFile)
	if code != 0 {
		t.Fatalf("token create: %s", errs)
	}
	tok = strings.TrimSpace(tok)
	if !strings.HasPrefix(tok, "ssuet_") || !strings.Contains(errs, "single-use") {
		t.Fatalf("token create printed %q / %q", tok, errs)
	}

	dir := filepath.Join(t.TempDir(), "enrol")
	out, errs, code := ctl(t, tok+"\n", "enrol", "--server", url, "--ca", caFile, "--token", "-", "--dir", dir)
	if code != 0 {
		t.Fatalf("enrol: %s", errs)
	}
	if strings.Contains(out+errs, tok) {
		t.Error("enrol printed the token")
	}
	id := regexp.MustCompile(`kiosk-[a-z]+`).FindString(out)
	if id == "" {
		t.Fatalf("enrol printed no kiosk id: %q", out)
	}
	if m := mode(t, filepath.Join(dir, enrol.FileKey)); m != 0o600 {
		t.Errorf("key mode %o", m)
	}
	conf, _ := os.ReadFile(filepath.Join(dir, enrol.FileConfig))
	if !strings.Contains(string(conf), "kiosk-id = "+id) || !strings.Contains(string(conf), "ward = Ward 7") {
		t.Errorf("configuration:\n%s", conf)
	}

	// The same token again, from a file: refused with a clear message, nothing written.
	tokFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokFile, []byte(tok+"\n"), 0o600)
	dir2 := t.TempDir()
	_, errs, code = ctl(t, "", "enrol", "--server", url, "--ca", caFile, "--token-file", tokFile, "--dir", dir2)
	if code != 1 || !strings.Contains(errs, "already used") || strings.Contains(errs, tok) {
		t.Fatalf("second use: code %d, %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir2, enrol.FileConfig)); err == nil {
		t.Error("a refused enrolment wrote a configuration")
	}

	// Renewal finds the server in the enrolment directory.
	out, errs, code = ctl(t, "", "renew", "--dir", dir)
	if code != 0 || !strings.Contains(out, "not due") {
		t.Fatalf("renew: %d %q %q", code, out, errs)
	}
	out, errs, code = ctl(t, "", "renew", "--dir", dir, "--force")
	if code != 0 || !strings.Contains(out, "renewed") {
		t.Fatalf("renew --force: %d %q %q", code, out, errs)
	}

	// Revocation (admin token on stdin), then renewal is refused.
	admin, _ := os.ReadFile(adminFile)
	out, errs, code = ctl(t, string(admin), "revoke", "--server", url, "--ca", caFile, "--kiosk", id, "--admin-token-file", "-")
	if code != 0 || !strings.Contains(out, "revoked "+id) {
		t.Fatalf("revoke: %d %q %q", code, out, errs)
	}
	if _, errs, code = ctl(t, "", "renew", "--dir", dir, "--force"); code != 1 || !strings.Contains(errs, "revoked") {
		t.Fatalf("renew after revoke: %d %q", code, errs)
	}

	// Decommission needs --yes, then wipes everything.
	if _, _, code = ctl(t, "", "decommission", "--dir", dir); code != 2 {
		t.Errorf("decommission without --yes: code %d", code)
	}
	if _, errs, code = ctl(t, "", "decommission", "--dir", dir, "--yes"); code != 0 {
		t.Fatalf("decommission: %s", errs)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left after decommission: %v", ents)
	}
}

func TestEnrolRefusesBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"enrol", "--server", "https://x.example"},                                      // no token
		{"enrol", "--server", "https://x.example", "--token", "a", "--token-file", "b"}, // both
		{"token", "create", "--server", "https://x.example"},                            // no site
		{"token"},
		{"revoke", "--server", "https://x.example"},
	} {
		if _, _, code := ctl(t, "", args...); code != 2 {
			t.Errorf("%v: code %d, want 2", args, code)
		}
	}
	_, errs, code := ctl(t, "", "enrol", "--server", "http://x.example", "--token", "ssuet_x", "--dir", t.TempDir())
	if code != 1 || !strings.Contains(errs, "malformed") && !strings.Contains(errs, "https") {
		t.Errorf("http server: %d %q", code, errs)
	}
	if strings.Contains(errs, "ssuet_x") {
		t.Error("the error holds the token")
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}
