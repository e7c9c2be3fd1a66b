//go:build imageboot

package image

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// OVMF, Debian's UEFI firmware for qemu: the code read-only, a copy of the variables per VM.
const (
	ovmfCode = "/usr/share/OVMF/OVMF_CODE.fd"
	ovmfVars = "/usr/share/OVMF/OVMF_VARS.fd"
)

// diskImage is the raw disk image `make image` built in dir.
func diskImage(tb testing.TB, dir string) string {
	tb.Helper()
	imgs, _ := filepath.Glob(filepath.Join(dir, "ssu-kiosk-*.img"))
	if len(imgs) != 1 {
		tb.Fatalf("want one ssu-kiosk-VERSION.img in %s, found %v: run `make image` first", dir, imgs)
	}
	return imgs[0]
}

// partitions reads a disk image's GPT.
func partitions(tb testing.TB, img string) sfdiskDump {
	tb.Helper()
	var d sfdiskDump
	if err := json.Unmarshal([]byte(run(tb, time.Minute, nil, "sfdisk", "--json", img)), &d); err != nil {
		tb.Fatal(err)
	}
	if len(d.PartitionTable.Partitions) != 4 {
		tb.Fatalf("%s: %d partitions, want 4", img, len(d.PartitionTable.Partitions))
	}
	return d
}

// partOffset is where partition n (1-based) starts, in bytes.
func partOffset(d sfdiskDump, n int) int64 {
	return d.PartitionTable.Partitions[n-1].Start * d.PartitionTable.SectorSize
}

// vm is one machine: its own copy of the disk and of the UEFI variables.
type vm struct {
	disk, vars string
}

// newVM copies the image as `dd` to a kiosk's disk would, puts a state file system on its state
// partition (when state is not ""), and sets GRUB's extra kernel command line (grubenv ssu_cmdline).
func newVM(tb testing.TB, dir, state, cmdline string) vm {
	tb.Helper()
	requireCommand(tb, "sfdisk", "fdisk")
	requireCommand(tb, "mcopy", "mtools")
	requireCommand(tb, "grub-editenv", "grub-common")
	for _, f := range []string{ovmfCode, ovmfVars} {
		if _, err := os.Stat(f); err != nil {
			tb.Fatalf("%v: apt-get install ovmf", err)
		}
	}
	work := tb.TempDir()
	v := vm{disk: filepath.Join(work, "disk.img"), vars: filepath.Join(work, "OVMF_VARS.fd")}
	run(tb, 5*time.Minute, nil, "cp", "--sparse=always", diskImage(tb, dir), v.disk)
	run(tb, time.Minute, nil, "cp", ovmfVars, v.vars)
	d := partitions(tb, v.disk)
	if state != "" {
		run(tb, 2*time.Minute, nil, "dd", "if="+state, "of="+v.disk, "bs=1M", "conv=notrunc,sparse", "status=none",
			"seek="+strconv.FormatInt(partOffset(d, 4), 10), "oflag=seek_bytes")
	}
	v.setEnv(tb, "ssu_cmdline="+strings.TrimSpace(
		"systemd.show_status=1 systemd.journald.forward_to_console=1 loglevel=6 "+cmdline))
	return v
}

// esp is the mtools name of the VM's ESP.
func (v vm) esp(tb testing.TB) string {
	return v.disk + "@@" + strconv.FormatInt(partOffset(partitions(tb, v.disk), 1), 10)
}

// env reads GRUB's environment (what RAUC and GRUB keep about the slots) from the VM's ESP.
func (v vm) env(tb testing.TB) map[string]string {
	tb.Helper()
	f := filepath.Join(tb.TempDir(), "grubenv")
	run(tb, time.Minute, nil, "mcopy", "-n", "-i", v.esp(tb), "::/EFI/BOOT/grubenv", f)
	out := map[string]string{}
	for _, line := range strings.Split(run(tb, time.Minute, nil, "grub-editenv", f, "list"), "\n") {
		if k, val, ok := strings.Cut(line, "="); ok {
			out[k] = val
		}
	}
	return out
}

// setEnv sets variables in GRUB's environment on the VM's ESP.
func (v vm) setEnv(tb testing.TB, assignments ...string) {
	tb.Helper()
	f := filepath.Join(tb.TempDir(), "grubenv")
	esp := v.esp(tb)
	run(tb, time.Minute, nil, "mcopy", "-n", "-i", esp, "::/EFI/BOOT/grubenv", f)
	run(tb, time.Minute, nil, "grub-editenv", append([]string{f, "set"}, assignments...)...)
	run(tb, time.Minute, nil, "mcopy", "-o", "-i", esp, f, "::/EFI/BOOT/grubenv")
}

// qemuArgs boots the VM from its disk under UEFI: no -kernel, no -initrd.
func (v vm) qemuArgs(accel string) []string {
	return []string{
		"-machine", "q35", "-accel", accel, "-m", "1536", "-smp", "2",
		"-drive", "if=pflash,format=raw,readonly=on,file=" + ovmfCode,
		"-drive", "if=pflash,format=raw,file=" + v.vars,
		"-drive", "file=" + v.disk + ",if=virtio,format=raw",
	}
}
