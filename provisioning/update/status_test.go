package update

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestVersionOrder(t *testing.T) {
	for _, tc := range []struct {
		bundle, running string
		want            error
	}{
		{"v1.2.0", "v1.2.0", nil},
		{"v1.2.1", "v1.2.0", nil},
		{"v1.10.0", "v1.9.3", nil},
		{"v1.2.0-3-gabc1234", "v1.2.0", nil},
		{"v1.2.0-3-gabc1234", "v1.2.0-12-gdef5678", ErrOlder},
		{"v1.1.9", "v1.2.0", ErrOlder},
		{"1.2.0", "v1.2.0-1-g0000000-dirty", ErrOlder},
		{"3e39f17", "v1.2.0", ErrUnordered},
		{"v1.2.0", "3e39f17-dirty", ErrUnordered},
		{"3e39f17", "3e39f17", nil},
		{"0.0.52-gabc1234", "0.0.51-gdef5678", nil}, // builds without a tag (image/version.sh)
		{"0.0.51-gdef5678", "0.0.52-gabc1234-dirty", ErrOlder},
	} {
		if got := newerOrSame(tc.bundle, tc.running); !errors.Is(got, tc.want) {
			t.Errorf("bundle %s over running %s: %v, want %v", tc.bundle, tc.running, got, tc.want)
		}
	}
}

// statusAfterFallback is rauc 1.8's `status --detailed --output-format=json` on slot A after GRUB
// fell back from a bundle installed to B.
const statusAfterFallback = `{"compatible":"ssu-kiosk-amd64","variant":"","booted":"A","boot_primary":"rootfs.0",
"slots":[{"rootfs.0":{"class":"rootfs","device":"/dev/disk/by-partlabel/rootfs.0","type":"ext4","bootname":"A",
"state":"booted","parent":null,"mountpoint":"/","boot_status":"good","slot_status":{"status":"ok"}}},
{"rootfs.1":{"class":"rootfs","device":"/dev/disk/by-partlabel/rootfs.1","type":"ext4","bootname":"B",
"state":"inactive","parent":null,"mountpoint":null,"boot_status":"bad","slot_status":{"bundle":{"compatible":
"ssu-kiosk-amd64","version":"v1.3.0"},"checksum":{"sha256":"00","size":1},"installed":{"timestamp":
"2026-12-08T01:00:00Z","count":1},"activated":{"timestamp":"2026-12-08T01:00:01Z","count":1},"status":"ok"}}}]}`

func TestStatusFallback(t *testing.T) {
	st, err := parseStatus([]byte(statusAfterFallback))
	if err != nil {
		t.Fatal(err)
	}
	run, ok := st.Running()
	if !ok || run.Name != "rootfs.0" || st.Primary != "rootfs.0" {
		t.Fatalf("running %+v (primary %s), want rootfs.0", run, st.Primary)
	}
	fb, ok := st.Fallback()
	if !ok {
		t.Fatal("no fallback seen")
	}
	if fb.FailedVersion != "v1.3.0" || fb.FailedSlot != "B" || fb.RunningSlot != "A" {
		t.Errorf("fallback %+v", fb)
	}

	// Once B is good (it booted and was marked good), there is no fallback; from B's side neither.
	st.Slots[1].BootStatus = "good"
	if fb, ok := st.Fallback(); ok {
		t.Errorf("fallback %+v with both slots good", fb)
	}
	st.Booted = "B"
	st.Slots[0].BootStatus = "good"
	if fb, ok := st.Fallback(); ok {
		t.Errorf("fallback %+v running the newest slot", fb)
	}
}

func TestReadSystem(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "system.conf")
	rel := filepath.Join(dir, "os-release")
	os.WriteFile(conf, []byte("[system]\ncompatible=ssu-kiosk-amd64\nbootloader=grub\n"), 0o644)
	os.WriteFile(rel, []byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nIMAGE_VERSION=v1.2.0-4-gabcdef0\n"), 0o644)
	s, err := ReadSystem(conf, rel)
	if err != nil {
		t.Fatal(err)
	}
	if s.Compatible != "ssu-kiosk-amd64" || s.Version != "v1.2.0-4-gabcdef0" {
		t.Errorf("system %+v", s)
	}
	os.WriteFile(rel, []byte("ID=debian\n"), 0o644)
	if _, err := ReadSystem(conf, rel); err == nil {
		t.Error("an os-release without IMAGE_VERSION was accepted")
	}
}

func TestBrokerConnected(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "kiosk.yaml")
	procNet := filepath.Join(dir, "net")
	os.Mkdir(procNet, 0o755)
	header := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	// 0x22B3 = 8883; state 01 established, 02 SYN_SENT.
	os.WriteFile(filepath.Join(procNet, "tcp"), []byte(header+
		"   0: 0F02000A:A1B2 0202000A:22B3 02 00000000:00000000 00:00000000 00000000   999        0 1\n"), 0o644)
	probe := BrokerConnected(conf, procNet)
	ctx := context.Background()
	if err := probe.Check(ctx); err != nil {
		t.Errorf("not enrolled (no configuration): %v, want healthy", err)
	}
	os.WriteFile(conf, []byte("kiosk-id = k1\nfleet-broker = ssl://fleet.example:8883\n"), 0o600)
	if err := probe.Check(ctx); err == nil {
		t.Error("a connection still being set up counted as connected")
	}
	os.WriteFile(filepath.Join(procNet, "tcp6"), []byte(header+
		"   0: 00000000000000000000000001000000:A1B3 00000000000000000000000001000000:22B3 01 00000000:00000000 00:00000000 00000000   999        0 2\n"), 0o644)
	if err := probe.Check(ctx); err != nil {
		t.Errorf("established over IPv6: %v", err)
	}
}

func TestWaitHealthyBounded(t *testing.T) {
	never := Probe{Name: "ssu-kiosk.service", Check: func(context.Context) error { return errors.New("activating") }}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := WaitHealthy(ctx, []Probe{never}, 10*time.Millisecond)
	if !errors.Is(err, ErrUnhealthy) {
		t.Fatalf("WaitHealthy: %v, want ErrUnhealthy", err)
	}
	n := 0
	soon := Probe{Name: "pcscd", Check: func(context.Context) error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	}}
	if err := WaitHealthy(context.Background(), []Probe{soon}, time.Millisecond); err != nil {
		t.Fatalf("WaitHealthy: %v", err)
	}
}
