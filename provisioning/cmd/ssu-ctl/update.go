package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"ssu-kiosk/provisioning/update"
)

const updateUsage = `usage:
  ssu-ctl update install [--force] [--dir DIR] [--scratch DIR] FILE|URL
        check a signed bundle and install it to the slot that is not running; it boots next
        (the kiosk reboots into it when idle; this command never reboots)
  ssu-ctl update check [--force] [--keyring PEM] [--compatible C --running V] [--scratch DIR] FILE
        check a bundle only: signature, device, version, payload (read in DIR, default $TMPDIR);
        nothing is written to a slot
  ssu-ctl update status
        the slots, which one booted, and a fallback from a bad update, as JSON
  ssu-ctl update mark-good [--wait D] [--reboot-on-failure]
        once the kiosk is healthy (ssu-kiosk READY, pcscd, the broker when enrolled) mark the booted
        slot good; if it is not within D, mark it bad and (with --reboot-on-failure) reboot
`

// updateFlags are what every update subcommand reads about the running kiosk.
type updateFlags struct {
	conf, osRelease, keyring, compatible, running, scratch string
}

func (u *updateFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&u.conf, "conf", "/etc/rauc/system.conf", "RAUC's system.conf (slots, keyring, compatible)")
	fs.StringVar(&u.osRelease, "os-release", "/etc/os-release", "the running version's IMAGE_VERSION")
	fs.StringVar(&u.scratch, "scratch", "", "where to read the payload through its hash tree before installing (room for one root image; empty: let rauc install check it as it writes)")
}

func (u *updateFlags) rauc() update.Rauc {
	if u.keyring != "" { // a build machine checking a bundle: no system.conf there
		return update.Rauc{Keyring: u.keyring, ScratchDir: u.scratch}
	}
	return update.Rauc{Conf: u.conf, ScratchDir: u.scratch}
}

func (u *updateFlags) system() (update.System, error) {
	if u.compatible != "" || u.running != "" {
		return update.System{Compatible: u.compatible, Version: u.running}, nil
	}
	return update.ReadSystem(u.conf, u.osRelease)
}

func runUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, updateUsage)
		return 2
	}
	switch args[0] {
	case "install", "check":
		return runUpdateInstall(ctx, args[0], args[1:], stdout, stderr)
	case "status":
		return runUpdateStatus(ctx, args[1:], stdout, stderr)
	case "mark-good":
		return runUpdateMarkGood(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, updateUsage)
		return 0
	}
	fmt.Fprintf(stderr, "ssu-ctl update: unknown command %q\n%s", args[0], updateUsage)
	return 2
}

func runUpdateInstall(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ssu-ctl update "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var u updateFlags
	u.register(fs)
	force := fs.Bool("force", false, "install a bundle older than the running version")
	dir := fs.String("dir", "/persist/rauc", "where a bundle given by URL is downloaded")
	if verb == "check" {
		fs.StringVar(&u.keyring, "keyring", "", "the keyring to check the signature with (default: system.conf's)")
		fs.StringVar(&u.compatible, "compatible", "", "the device's compatible (default: system.conf's)")
		fs.StringVar(&u.running, "running", "", "the running version (default: os-release's IMAGE_VERSION)")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprint(stderr, updateUsage)
		return 2
	}
	sys, err := u.system()
	if err != nil {
		fmt.Fprintf(stderr, "ssu-ctl update %s: %v\n", verb, err)
		return 1
	}
	bundle := fs.Arg(0)
	if strings.HasPrefix(bundle, "https://") || strings.HasPrefix(bundle, "http://") {
		path, err := download(ctx, bundle, *dir)
		if err != nil {
			fmt.Fprintf(stderr, "ssu-ctl update %s: %v\n", verb, err)
			return 1
		}
		defer os.Remove(path)
		bundle = path
	}
	r := u.rauc()
	if verb == "check" && r.ScratchDir == "" {
		r.ScratchDir = os.TempDir()
	}
	start := time.Now()
	var b update.Bundle
	if verb == "check" {
		b, err = r.Check(ctx, bundle, sys, *force)
	} else {
		b, err = r.Install(ctx, bundle, sys, *force)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ssu-ctl update %s: %v\n", verb, err)
		var refused *update.RefusedError
		if errors.As(err, &refused) {
			fmt.Fprintln(stderr, "nothing was written; the running slot is untouched")
		}
		return 1
	}
	if verb == "check" {
		fmt.Fprintf(stdout, "bundle %s for %s: signature, device, version and payload good\n", b.Version, b.Compatible)
		return 0
	}
	fmt.Fprintf(stdout, "installed %s (was %s) in %s; it boots next: reboot when idle\n",
		b.Version, sys.Version, time.Since(start).Round(time.Second))
	return 0
}

// download fetches a bundle into dir; the signature is checked afterwards like any file's.
func download(ctx context.Context, url, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("download folder: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("download: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("download %s: %s", url, resp.Status)
	}
	f, err := os.CreateTemp(dir, "bundle-*.raucb")
	if err != nil {
		return "", fmt.Errorf("download: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("download: %w", err)
	}
	return filepath.Clean(f.Name()), nil
}

// statusReport is what `ssu-ctl update status` prints.
type statusReport struct {
	Version  string           `json:"version"`
	Booted   string           `json:"booted"`
	Primary  string           `json:"primary"`
	Slots    []update.Slot    `json:"slots"`
	Fallback *update.Fallback `json:"fallback,omitempty"`
}

func runUpdateStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ssu-ctl update status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var u updateFlags
	u.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	st, err := u.rauc().Status(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "ssu-ctl update status: %v\n", err)
		return 1
	}
	rep := statusReport{Booted: st.Booted, Primary: st.Primary, Slots: st.Slots}
	if sys, err := u.system(); err == nil {
		rep.Version = sys.Version
	}
	if fb, ok := st.Fallback(); ok {
		if fb.RunningVersion == "" {
			fb.RunningVersion = rep.Version
		}
		rep.Fallback = &fb
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return 1
	}
	return 0
}

func runUpdateMarkGood(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ssu-ctl update mark-good", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var u updateFlags
	u.register(fs)
	wait := fs.Duration("wait", 5*time.Minute, "how long the kiosk has to become healthy")
	reboot := fs.Bool("reboot-on-failure", false, "mark the slot bad and reboot when it does not")
	kioskConf := fs.String("kiosk-config", "/var/lib/ssu/enrol/kiosk.yaml", "the enrolled configuration (names the broker)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	probes := []update.Probe{update.UnitActive("pcscd.socket"), update.BrokerConnected(*kioskConf, "/proc/net")}
	if _, err := os.Stat(*kioskConf); err == nil {
		// Enrolled: the kiosk itself must be READY (ssu-kiosk.service runs only once enrolled).
		probes = append([]update.Probe{update.UnitActive("ssu-kiosk.service")}, probes...)
	} else {
		// Not enrolled yet: the kiosk cannot run, but the display must be up for it (and enrolment
		// may take long: the slot is not held to it).
		probes = append([]update.Probe{update.UnitActive("ssu-display.service")}, probes...)
	}
	wctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	r := u.rauc()
	if err := update.WaitHealthy(wctx, probes, 2*time.Second); err != nil {
		fmt.Fprintf(stderr, "ssu-ctl update mark-good: %v\n", err)
		if !*reboot {
			return 1
		}
		// Mark this slot bad only when there is a good one to go back to: a kiosk whose only good
		// slot is unhealthy (a broken network, say) keeps running it and is seen in the fleet.
		st, err := r.Status(ctx)
		if err != nil || !otherSlotGood(st) {
			fmt.Fprintf(stderr, "ssu-ctl update mark-good: no other good slot to go back to (%v): staying on this one\n", err)
			return 1
		}
		if err := r.MarkBad(ctx); err != nil {
			fmt.Fprintf(stderr, "ssu-ctl update mark-good: mark bad: %v\n", err)
		}
		fmt.Fprintln(stderr, "ssu-ctl update mark-good: rebooting to the last good slot")
		if err := exec.CommandContext(ctx, "systemctl", "reboot").Run(); err != nil {
			fmt.Fprintf(stderr, "ssu-ctl update mark-good: reboot: %v\n", err)
		}
		return 1
	}
	if err := r.MarkGood(ctx); err != nil {
		fmt.Fprintf(stderr, "ssu-ctl update mark-good: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "healthy: booted slot marked good")
	return 0
}

// otherSlotGood says whether a slot other than the booted one may boot.
func otherSlotGood(st update.Status) bool {
	for _, s := range st.Slots {
		if s.Bootname != st.Booted && s.BootStatus == "good" {
			return true
		}
	}
	return false
}
