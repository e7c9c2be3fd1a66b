package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUpdateCheck runs `ssu-ctl update check` on bundles made with the project's image/bundle.sh and
// the real rauc: a good one passes; one signed by another key or for another device is refused with
// a clear error that says nothing was written.
func TestUpdateCheck(t *testing.T) {
	for _, c := range [][2]string{{"rauc", "rauc"}, {"mksquashfs", "squashfs-tools"}, {"openssl", "openssl"}, {"mkfs.ext4", "e2fsprogs"}} {
		if _, err := exec.LookPath(c[0]); err != nil {
			t.Fatalf("%s not found: apt-get install %s", c[0], c[1])
		}
	}
	dir := t.TempDir()
	sh := func(name string, args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	key := func(name string) (cert, key string) {
		cert, key = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
		sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
			"-days", "2", "-subj", "/CN="+name, "-keyout", key, "-out", cert)
		return cert, key
	}
	goodCert, goodKey := key("good")
	otherCert, otherKey := key("other")
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(tree, 0o755)
	noise := make([]byte, 64<<10)
	if _, err := rand.Read(noise); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(tree, "noise"), noise, 0o644)
	root := filepath.Join(dir, "root.ext4")
	sh("mkfs.ext4", "-q", "-d", tree, root, "4M")
	script, _ := filepath.Abs("../../../image/bundle.sh")
	bundle := func(name, cert, key, compat string) string {
		out := filepath.Join(dir, name+".raucb")
		sh(script, "--cert", cert, "--key", key, "--version", "v2.0.0", "--compatible", compat, root, out)
		return out
	}
	check := func(b string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), []string{"update", "check", "--keyring", goodCert, "--compatible", "ssu-kiosk-amd64",
			"--running", "v1.0.0", "--scratch", dir, b}, strings.NewReader(""), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}

	if code, out, errOut := check(bundle("good", goodCert, goodKey, "ssu-kiosk-amd64")); code != 0 || !strings.Contains(out, "v2.0.0") {
		t.Fatalf("good bundle: exit %d\n%s%s", code, out, errOut)
	}
	for name, b := range map[string]string{
		"not signed by a trusted key": bundle("foreign", otherCert, otherKey, "ssu-kiosk-amd64"),
		"for another device":          bundle("elsewhere", goodCert, goodKey, "another-device"),
		"older than the running version": func() string {
			out := filepath.Join(dir, "old.raucb")
			sh(script, "--cert", goodCert, "--key", goodKey, "--version", "v0.9.0", root, out)
			return out
		}(),
	} {
		code, _, errOut := check(b)
		if code != 1 || !strings.Contains(errOut, name) || !strings.Contains(errOut, "nothing was written") {
			t.Errorf("%s: exit %d, stderr %q", name, code, errOut)
		}
	}
}
