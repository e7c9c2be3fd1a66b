package image

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// ini reads RAUC's system.conf into section → key → value.
func ini(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	section := ""
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
			out[section] = map[string]string{}
		default:
			k, v, _ := strings.Cut(line, "=")
			out[section][k] = v
		}
	}
	return out
}

// TestRaucSystemConf checks RAUC's configuration on the kiosk: GRUB's environment on the ESP, two
// root slots A and B by partition label, the status on the state partition, which is not a slot.
func TestRaucSystemConf(t *testing.T) {
	conf := ini(t, "rootfs/etc/rauc/system.conf")
	sys := conf["system"]
	if sys["compatible"] != "ssu-kiosk-amd64" || sys["bootloader"] != "grub" ||
		sys["grubenv"] != "/boot/efi/EFI/BOOT/grubenv" || !strings.HasPrefix(sys["statusfile"], "/persist/") {
		t.Errorf("[system] %v", sys)
	}
	if sys["bundle-formats"] != "-plain" {
		t.Error("plain bundles (signature over the whole file, no hash tree) are accepted")
	}
	if conf["keyring"]["path"] != "/etc/rauc/keyring.pem" {
		t.Errorf("[keyring] %v", conf["keyring"])
	}
	slots := map[string]string{}
	for name, kv := range conf {
		if !strings.HasPrefix(name, "slot.") {
			continue
		}
		slots[strings.TrimPrefix(name, "slot.")] = kv["bootname"]
		dev := kv["device"]
		if kv["type"] != "ext4" || !strings.HasPrefix(dev, "/dev/disk/by-partlabel/rootfs.") {
			t.Errorf("[%s] %v", name, kv)
		}
		if strings.Contains(dev, "state") || strings.Contains(dev, "esp") {
			t.Errorf("[%s] would let an update write %s", name, dev)
		}
	}
	if len(slots) != 2 || slots["rootfs.0"] != "A" || slots["rootfs.1"] != "B" {
		t.Errorf("slots %v, want rootfs.0=A rootfs.1=B only", slots)
	}
	// The slot names are the partition labels disk.sh writes.
	script, err := os.ReadFile("disk.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, label := range []string{"-c 2:rootfs.0", "-c 3:rootfs.1", "-c 1:esp"} {
		if !strings.Contains(string(script), label) {
			t.Errorf("disk.sh does not label %s", label)
		}
	}
}

// TestBundle builds a small bundle as `make bundle` does (build.sh bundle, the development key
// made on first use in bin/rauc-dev) and has rauc check it against the image's keyring, with the
// kiosk's system.conf.
func TestBundle(t *testing.T) {
	requireCommand(t, "rauc", "rauc")
	requireCommand(t, "mksquashfs", "squashfs-tools")
	requireCommand(t, "openssl", "openssl")
	out := t.TempDir()
	smallRoot(t, out)
	env := []string{"SSU_VERSION=v9.8.7", "SSU_RAUC_CERT=", "SSU_RAUC_KEY=", "SSU_RAUC_KEYRING="}
	got := run(t, 2*time.Minute, env, "./build.sh", "bundle", out)
	bundle := filepath.Join(out, "ssu-kiosk-v9.8.7.raucb")
	if !strings.Contains(got, bundle) {
		t.Fatalf("build.sh bundle printed %q, want %s", got, bundle)
	}
	cert := filepath.Join(repoDir(t), "bin", "rauc-dev", "cert.pem")
	key := filepath.Join(repoDir(t), "bin", "rauc-dev", "key.pem")
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("development key %s: %v (want mode 0600)", key, err)
	}

	// The kiosk's own configuration, with the keyring moved to the development certificate.
	conf := filepath.Join(out, "system.conf")
	data, err := os.ReadFile("rootfs/etc/rauc/system.conf")
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), "path=/etc/rauc/keyring.pem", "path="+cert, 1))
	if err := os.WriteFile(conf, data, 0o644); err != nil {
		t.Fatal(err)
	}
	info := run(t, time.Minute, nil, "rauc", "--conf="+conf, "info", "--output-format=json", bundle)
	for _, want := range []string{`"compatible":"ssu-kiosk-amd64"`, `"version":"v9.8.7"`, `"filename":"root.ext4"`} {
		if !strings.Contains(info, want) {
			t.Errorf("rauc info lacks %s:\n%s", want, info)
		}
	}
	if got := run(t, time.Minute, nil, "rauc", "--keyring="+cert, "info", bundle); !regexp.MustCompile(`(?i)format:\s*verity`).MatchString(got) {
		t.Errorf("the bundle is not in verity format:\n%s", got)
	}
	// The development certificate is not committed.
	if _, err := tryRun(t, time.Minute, nil, "git", "-C", repoDir(t), "check-ignore", "-q", key); err != nil {
		t.Errorf("%s is not ignored by git: it could be committed", key)
	}
}
