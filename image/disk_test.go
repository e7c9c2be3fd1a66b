package image

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// smallRoot makes a small ext4 root with a kernel-shaped file and some random content (a verity
// bundle's squashfs must be larger than 4 KiB).
func smallRoot(t *testing.T, dir string) string {
	t.Helper()
	requireCommand(t, "mkfs.ext4", "e2fsprogs")
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "boot"), 0o755); err != nil {
		t.Fatal(err)
	}
	noise := make([]byte, 64<<10)
	f, err := os.Open("/dev/urandom")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.ReadFull(f, noise); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "boot", "vmlinuz-test"), noise, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("boot/vmlinuz-test", filepath.Join(tree, "vmlinuz")); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "root.ext4")
	run(t, time.Minute, nil, "mkfs.ext4", "-q", "-L", "SSU-ROOT", "-d", tree, img, "6M")
	return img
}

type sfdiskDump struct {
	PartitionTable struct {
		Label      string `json:"label"`
		SectorSize int64  `json:"sectorsize"`
		Partitions []struct {
			Start int64  `json:"start"`
			Size  int64  `json:"size"`
			Type  string `json:"type"`
			UUID  string `json:"uuid"`
			Name  string `json:"name"`
		} `json:"partitions"`
	} `json:"partitiontable"`
}

// TestDiskLayout lays out a small disk with image/disk.sh, as `make image` does with the real root,
// and checks the GPT, the ESP (GRUB, its A/B configuration, the environment) and the slots.
func TestDiskLayout(t *testing.T) {
	requireCommand(t, "sfdisk", "fdisk")
	requireCommand(t, "mtype", "mtools")
	requireCommand(t, "grub-editenv", "grub-common")
	dir := t.TempDir()
	root := smallRoot(t, dir)
	state := filepath.Join(dir, "state.ext4")
	run(t, time.Minute, nil, "mkfs.ext4", "-q", "-L", "SSU-STATE", state, "4M")
	img := filepath.Join(dir, "disk.img")
	run(t, 2*time.Minute, nil, "./disk.sh", "--esp", "34", "--slot", "8", "--state", "6", root, state, img)

	var dump sfdiskDump
	if err := json.Unmarshal([]byte(run(t, time.Minute, nil, "sfdisk", "--json", img)), &dump); err != nil {
		t.Fatal(err)
	}
	pt := dump.PartitionTable
	if pt.Label != "gpt" || len(pt.Partitions) != 4 {
		t.Fatalf("partition table %s with %d partitions, want gpt with 4", pt.Label, len(pt.Partitions))
	}
	const (
		esp   = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
		rootT = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"
		lin   = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
		mib   = 1 << 20
	)
	want := []struct {
		name, typ, uuid string
		mib             int64
	}{
		{"esp", esp, "5E55A000-0000-4000-8000-000000000001", 34},
		{"rootfs.0", rootT, "5E55A000-0000-4000-8000-00000000000A", 8},
		{"rootfs.1", rootT, "5E55A000-0000-4000-8000-00000000000B", 8},
		{"state", lin, "5E55A000-0000-4000-8000-000000000005", 6},
	}
	for i, w := range want {
		p := pt.Partitions[i]
		if p.Name != w.name || !strings.EqualFold(p.Type, w.typ) || !strings.EqualFold(p.UUID, w.uuid) ||
			p.Size*pt.SectorSize != w.mib*mib || (p.Start*pt.SectorSize)%mib != 0 {
			t.Errorf("partition %d: %+v, want %s type %s uuid %s, %d MiB, 1 MiB aligned", i+1, p, w.name, w.typ, w.uuid, w.mib)
		}
	}

	// The ESP, read in place by mtools (no loop device, no mount).
	espAt := "@@" + strconv.FormatInt(pt.Partitions[0].Start*pt.SectorSize, 10)
	listing := run(t, time.Minute, nil, "mdir", "-b", "-i", img+espAt, "::/EFI/BOOT")
	for _, f := range []string{"BOOTX64.EFI", "grub.cfg", "grubenv"} {
		if !strings.Contains(strings.ToLower(listing), strings.ToLower("/EFI/BOOT/"+f)) {
			t.Errorf("the ESP has no EFI/BOOT/%s:\n%s", f, listing)
		}
	}
	efi := run(t, time.Minute, nil, "mtype", "-i", img+espAt, "::/EFI/BOOT/BOOTX64.EFI")
	if !strings.HasPrefix(efi, "MZ") {
		t.Error("EFI/BOOT/BOOTX64.EFI is not a PE image")
	}
	cfg := run(t, time.Minute, nil, "mtype", "-i", img+espAt, "::/EFI/BOOT/grub.cfg")
	for _, want := range []string{"load_env", "save_env A_TRY B_TRY", `for s in $ORDER`, "A_OK", "B_OK",
		"root=PARTUUID=$partuuid", "rauc.slot=$slot", "5e55a000-0000-4000-8000-00000000000a",
		"5e55a000-0000-4000-8000-00000000000b", "panic="} {
		if !strings.Contains(cfg, want) {
			t.Errorf("grub.cfg lacks %q", want)
		}
	}
	env := filepath.Join(dir, "grubenv")
	run(t, time.Minute, nil, "mcopy", "-i", img+espAt, "::/EFI/BOOT/grubenv", env)
	vars := run(t, time.Minute, nil, "grub-editenv", env, "list")
	for _, want := range []string{"ORDER=A B", "A_OK=1", "A_TRY=0", "B_OK=0", "B_TRY=0"} {
		if !strings.Contains(vars, want+"\n") {
			t.Errorf("grubenv lacks %s:\n%s", want, vars)
		}
	}
	if fi, err := os.Stat(env); err != nil || fi.Size() != 1024 {
		t.Errorf("grubenv is not GRUB's 1 KiB block: %v", err)
	}

	// Slot A holds the root image byte for byte; slot B is empty; state holds the state image.
	disk, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	part := func(i int) []byte {
		p := pt.Partitions[i]
		return disk[p.Start*pt.SectorSize : (p.Start+p.Size)*pt.SectorSize]
	}
	for i, file := range map[int]string{1: root, 3: state} {
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(part(i)[:len(want)], want) {
			t.Errorf("partition %d does not hold %s", i+1, filepath.Base(file))
		}
	}
	if !bytes.Equal(part(2), make([]byte, len(part(2)))) {
		t.Error("slot B is not empty")
	}

	// A root that does not fit a slot is refused.
	if out, err := tryRun(t, time.Minute, nil, "./disk.sh", "--slot", "2", root, state, img); err == nil {
		t.Errorf("a 6 MiB root was put in a 2 MiB slot:\n%s", out)
	}
}
