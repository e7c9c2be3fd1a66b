package update_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/provisioning/update"
)

const compatible = "ssu-kiosk-amd64"

// requireCommand fails the test naming the Debian package when a command is missing.
func requireCommand(t *testing.T, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s not found: apt-get install %s", name, pkg)
	}
}

func runCmd(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// signer is a signing key and its self-signed certificate (the keyring of a kiosk that trusts it).
type signer struct{ cert, key string }

func newSigner(t *testing.T, dir, name string) signer {
	t.Helper()
	requireCommand(t, "openssl", "openssl")
	s := signer{cert: filepath.Join(dir, name+".cert.pem"), key: filepath.Join(dir, name+".key.pem")}
	runCmd(t, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
		"-nodes", "-days", "2", "-subj", "/CN=ssu-kiosk test "+name, "-keyout", s.key, "-out", s.cert)
	return s
}

// rootImage is a small ext4 root with some random content (a verity bundle's squashfs must be
// larger than 4 KiB).
func rootImage(t *testing.T, dir string) string {
	t.Helper()
	requireCommand(t, "mkfs.ext4", "e2fsprogs")
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	noise := make([]byte, 64<<10)
	f, err := os.Open("/dev/urandom")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Read(noise); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "etc", "noise"), noise, 0o644); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "root.ext4")
	runCmd(t, "mkfs.ext4", "-q", "-L", "SSU-ROOT", "-d", tree, img, "4M")
	return img
}

// bundle builds a bundle with the project's image/bundle.sh.
func bundle(t *testing.T, s signer, root, version, compat, out string) string {
	t.Helper()
	requireCommand(t, "rauc", "rauc")
	requireCommand(t, "mksquashfs", "squashfs-tools")
	script, err := filepath.Abs("../../image/bundle.sh")
	if err != nil {
		t.Fatal(err)
	}
	runCmd(t, script, "--cert", s.cert, "--key", s.key, "--version", version, "--compatible", compat, root, out)
	return out
}

// fakeRauc is rauc with a log of its commands: a bundle that is refused must never reach install.
func fakeRauc(t *testing.T, dir string) (path, log string) {
	t.Helper()
	real, err := exec.LookPath("rauc")
	if err != nil {
		t.Fatal("rauc not found: apt-get install rauc")
	}
	path, log = filepath.Join(dir, "rauc"), filepath.Join(dir, "rauc.log")
	script := "#!/bin/sh\necho \"$*\" >>" + log + "\nfor a; do [ \"$a\" = install ] && exit 0; done\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, log
}

type fixture struct {
	dir, root string
	good      signer
	rauc      update.Rauc
	log       string
	sys       update.System
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	f := &fixture{dir: dir, root: rootImage(t, dir), good: newSigner(t, dir, "good")}
	path, log := fakeRauc(t, dir)
	scratch := filepath.Join(dir, "scratch")
	if err := os.Mkdir(scratch, 0o700); err != nil {
		t.Fatal(err)
	}
	f.rauc = update.Rauc{Path: path, Keyring: f.good.cert, ScratchDir: scratch}
	f.log = log
	f.sys = update.System{Compatible: compatible, Version: "v1.2.0"}
	return f
}

func (f *fixture) installs(t *testing.T) int {
	data, err := os.ReadFile(f.log)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(" "+line+" ", " install ") {
			n++
		}
	}
	return n
}

func (f *fixture) scratchEmpty(t *testing.T) {
	t.Helper()
	entries, err := os.ReadDir(f.rauc.ScratchDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("the scratch folder keeps %d entries after a check", len(entries))
	}
}

func TestInstallsSignedNewerBundle(t *testing.T) {
	f := newFixture(t)
	b := bundle(t, f.good, f.root, "v1.3.0", compatible, filepath.Join(f.dir, "new.raucb"))
	info, err := f.rauc.Install(t.Context(), b, f.sys, false)
	if err != nil {
		t.Fatalf("install of a good bundle: %v", err)
	}
	if info.Version != "v1.3.0" || info.Compatible != compatible {
		t.Errorf("bundle read as %+v", info)
	}
	if n := f.installs(t); n != 1 {
		t.Errorf("rauc install ran %d times, want 1", n)
	}
	f.scratchEmpty(t)
}

func TestRefusesBadBundles(t *testing.T) {
	f := newFixture(t)
	good := bundle(t, f.good, f.root, "v1.3.0", compatible, filepath.Join(f.dir, "good.raucb"))
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}

	// Signed by a key the kiosk does not trust.
	other := newSigner(t, f.dir, "other")
	foreign := bundle(t, other, f.root, "v1.3.0", compatible, filepath.Join(f.dir, "foreign.raucb"))
	// Truncated in the middle of the payload.
	truncated := filepath.Join(f.dir, "truncated.raucb")
	if err := os.WriteFile(truncated, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	// One byte of the payload flipped: the signature (over the hash tree) still verifies.
	corrupt := filepath.Join(f.dir, "corrupt.raucb")
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)/4] ^= 0xff
	if err := os.WriteFile(corrupt, flipped, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (update.Rauc{Keyring: f.good.cert}).Info(t.Context(), corrupt); err != nil {
		t.Logf("note: rauc info now refuses a corrupt payload too: %v", err)
	}
	elsewhere := bundle(t, f.good, f.root, "v1.3.0", "another-device", filepath.Join(f.dir, "elsewhere.raucb"))
	older := bundle(t, f.good, f.root, "v1.1.9", compatible, filepath.Join(f.dir, "older.raucb"))
	unordered := bundle(t, f.good, f.root, "3e39f17", compatible, filepath.Join(f.dir, "unordered.raucb"))

	for _, tc := range []struct {
		name, bundle string
		want         error
	}{
		{"another key", foreign, update.ErrSignature},
		{"truncated", truncated, update.ErrCorrupt},
		{"corrupt payload", corrupt, update.ErrCorrupt},
		{"another device", elsewhere, update.ErrIncompatible},
		{"older", older, update.ErrOlder},
		{"a bare commit", unordered, update.ErrUnordered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.rauc.Install(t.Context(), tc.bundle, f.sys, false)
			if !errors.Is(err, tc.want) {
				t.Fatalf("install: %v, want %v", err, tc.want)
			}
			var refused *update.RefusedError
			if !errors.As(err, &refused) || refused.Bundle != tc.bundle {
				t.Errorf("error %v does not name the refused bundle", err)
			}
			if n := f.installs(t); n != 0 {
				t.Errorf("rauc install ran for a refused bundle")
			}
			f.scratchEmpty(t)
		})
	}

	t.Run("older, forced", func(t *testing.T) {
		if _, err := f.rauc.Install(t.Context(), older, f.sys, true); err != nil {
			t.Fatalf("forced install of an older bundle: %v", err)
		}
	})
}

func TestMissingBundle(t *testing.T) {
	f := newFixture(t)
	_, err := f.rauc.Check(t.Context(), filepath.Join(f.dir, "nothing.raucb"), f.sys, false)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("check of a missing file: %v", err)
	}
}
