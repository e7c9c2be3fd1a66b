package link

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"ssu-kiosk/provisioning/pki"
	"ssu-kiosk/provisioning/version"
	"ssu-kiosk/remote/fleet"
)

// Installer writes a downloaded, checksummed bundle to the slot that is not running and makes it the
// one booted next; it does not reboot. The kiosk's is provisioning/update (RAUC checks the bundle's
// signature again); the simulator's is a fake.
type Installer interface {
	Install(ctx context.Context, bundle, version string, allowOlder bool) error
}

// Files in Config.UpdateDir.
const (
	jobFile    = "job.json"    // the update command being carried out: resumed after a restart
	bootedFile = "booted.json" // written before the reboot into a new version: checked at the next start
)

// booted is what the kiosk expects to run after its reboot.
type booted struct {
	Version string `json:"version"` // the release installed
	From    string `json:"from"`    // the version that installed it
}

// update answers an update command at once ("deferred": it runs in the background) and carries it out.
func (a *Agent) update(ctx context.Context, c mqtt.Client, res fleet.CommandResult, cmd fleet.Command) {
	switch {
	case a.cfg.Installer == nil || a.cfg.UpdateDir == "":
		res.Status, res.Reason = fleet.ResultFailed, "this kiosk does not install updates"
	case cmd.Version == a.cfg.AppVersion:
		res.Status, res.Reason = fleet.ResultOK, "already running "+cmd.Version
		a.recordStep(ctx, cmd.Version, fleet.StepRunning, "")
	case !cmd.AllowOlder && version.Compare(cmd.Version, a.cfg.AppVersion) < 0:
		res.Reason = fmt.Sprintf("%s is older than the running %s", cmd.Version, a.cfg.AppVersion)
		a.recordStep(ctx, cmd.Version, fleet.StepFailed, "older_than_running")
	default:
		if err := a.startUpdate(ctx, cmd); err != nil {
			res.Status, res.Reason = fleet.ResultFailed, err.Error()
		} else {
			res.Status, res.Reason = fleet.ResultDeferred, "updating in the background"
		}
	}
	a.answer(c, res)
}

// startUpdate saves the command (so a restart resumes it) and runs it, replacing any update under way.
func (a *Agent) startUpdate(ctx context.Context, cmd fleet.Command) error {
	if err := os.MkdirAll(a.cfg.UpdateDir, 0o700); err != nil {
		return fmt.Errorf("update folder: %w", err)
	}
	b, _ := json.Marshal(cmd)
	if err := writeFileSync(filepath.Join(a.cfg.UpdateDir, jobFile), b); err != nil {
		return fmt.Errorf("save update job: %w", err)
	}
	a.runUpdate(ctx, cmd)
	return nil
}

// runUpdate starts cmd in the background, cancelling the update under way, if any.
func (a *Agent) runUpdate(ctx context.Context, cmd fleet.Command) {
	a.mu.Lock()
	if a.stopUpdate != nil {
		a.stopUpdate()
	}
	uctx, cancel := context.WithCancel(ctx)
	a.stopUpdate = cancel
	a.updates.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.updates.Done()
		a.carryOut(uctx, cmd)
	}()
}

// resumeUpdate, at start, reports how the last update's reboot went and resumes an update that was
// under way when the agent stopped.
func (a *Agent) resumeUpdate(ctx context.Context) {
	if a.cfg.Installer == nil || a.cfg.UpdateDir == "" {
		return
	}
	if b, err := os.ReadFile(filepath.Join(a.cfg.UpdateDir, bootedFile)); err == nil {
		var bt booted
		if json.Unmarshal(b, &bt) == nil {
			if a.cfg.AppVersion == bt.Version {
				a.recordStep(ctx, bt.Version, fleet.StepRunning, "")
			} else {
				a.log.Warn("update: the new version did not stay booted", "release", bt.Version, "running", a.cfg.AppVersion)
				a.recordStep(ctx, bt.Version, fleet.StepFellBack, "booted_old_slot")
			}
		}
		os.Remove(filepath.Join(a.cfg.UpdateDir, bootedFile))
		os.Remove(filepath.Join(a.cfg.UpdateDir, jobFile))
		return
	}
	b, err := os.ReadFile(filepath.Join(a.cfg.UpdateDir, jobFile))
	if err != nil {
		return
	}
	var cmd fleet.Command
	if json.Unmarshal(b, &cmd) != nil || cmd.Validate() != nil {
		os.Remove(filepath.Join(a.cfg.UpdateDir, jobFile))
		return
	}
	a.log.Info("update: resuming", "release", cmd.Version)
	a.runUpdate(ctx, cmd)
}

// carryOut downloads, checks, installs and reboots when idle, reporting each step.
func (a *Agent) carryOut(ctx context.Context, cmd fleet.Command) {
	fail := func(reason string, err error) {
		if ctx.Err() != nil {
			return // stopped or replaced: the job file resumes it
		}
		a.log.Warn("update failed", "release", cmd.Version, "reason", reason, "err", err)
		os.Remove(filepath.Join(a.cfg.UpdateDir, jobFile))
		a.recordStep(context.WithoutCancel(ctx), cmd.Version, fleet.StepFailed, reason)
	}
	a.recordStep(ctx, cmd.Version, fleet.StepDownloading, "")
	bundle, err := a.download(ctx, cmd)
	if err != nil {
		if errors.Is(err, errChecksum) {
			fail("sha256_mismatch", err)
		} else {
			fail("download_failed", err)
		}
		return
	}
	if err := a.cfg.Installer.Install(ctx, bundle, cmd.Version, cmd.AllowOlder); err != nil {
		fail("install_failed", err)
		return
	}
	os.Remove(bundle) // the slot holds it now
	a.recordStep(ctx, cmd.Version, fleet.StepInstalled, "")

	// Reboot only when idle (not in the middle of someone's unlock) and outside the site's busy hours.
	for {
		a.mu.Lock()
		idle, busy := a.idle, a.busy
		a.mu.Unlock()
		if !busy && !fleet.InBusyHours(cmd.BusyHours, a.now()) {
			break
		}
		wait := idle
		if !busy {
			wait = nil // busy hours: look at the clock again in a while
		}
		select {
		case <-ctx.Done():
			return
		case <-wait:
		case <-time.After(a.busyRecheck):
		}
	}
	b, _ := json.Marshal(booted{Version: cmd.Version, From: a.cfg.AppVersion})
	if err := writeFileSync(filepath.Join(a.cfg.UpdateDir, bootedFile), b); err != nil {
		fail("state_write_failed", err)
		return
	}
	a.recordStep(ctx, cmd.Version, fleet.StepRebooting, "")
	if a.cfg.Commands == nil {
		fail("no_reboot", errors.New("no commands to reboot with"))
		return
	}
	if err := a.cfg.Commands.Reboot(ctx); err != nil {
		os.Remove(filepath.Join(a.cfg.UpdateDir, bootedFile))
		fail("reboot_failed", err)
	}
}

var errChecksum = errors.New("sha256 mismatch")

// download fetches cmd.URL into UpdateDir/<sha256>.part, resuming from what is there with an HTTP
// Range request, retrying until ctx ends, and checks the whole file's sha256. A mismatch removes the
// file, so the next attempt starts over.
func (a *Agent) download(ctx context.Context, cmd fleet.Command) (string, error) {
	part := filepath.Join(a.cfg.UpdateDir, cmd.SHA256+".part")
	if bundle := filepath.Join(a.cfg.UpdateDir, cmd.SHA256+".raucb"); fileExists(bundle) {
		return bundle, nil // downloaded and checked before a restart
	}
	backoff := 250 * time.Millisecond
	for tries := 1; ; tries++ {
		err := a.fetch(ctx, cmd, part)
		if err == nil {
			break
		}
		if ctx.Err() != nil || tries >= a.cfg.DownloadTries {
			return "", err
		}
		a.log.Info("update: download interrupted; resuming", "release", cmd.Version, "err", err)
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
	f, err := os.Open(part)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return "", err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != cmd.SHA256 {
		os.Remove(part)
		return "", fmt.Errorf("%w: got %s", errChecksum, got)
	}
	bundle := filepath.Join(a.cfg.UpdateDir, cmd.SHA256+".raucb")
	if err := os.Rename(part, bundle); err != nil {
		return "", err
	}
	return bundle, nil
}

// fetch makes one request for what part lacks.
func (a *Agent) fetch(ctx context.Context, cmd fleet.Command, part string) error {
	f, err := os.OpenFile(part, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if cmd.Size > 0 && have == cmd.Size {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cmd.URL, nil)
	if err != nil {
		return err
	}
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
	case resp.StatusCode == http.StatusOK:
		if err := f.Truncate(0); err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		// What we have is longer than the bundle: start again.
		f.Truncate(0)
		return errors.New("range not satisfiable: starting over")
	default:
		return fmt.Errorf("download %s: %s", cmd.Version, resp.Status)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Sync()
		return fmt.Errorf("download %s: %w", cmd.Version, err)
	}
	return f.Sync()
}

// recordStep reports an update step as a usage event (durable: it reaches the fleet even across the
// reboot).
func (a *Agent) recordStep(ctx context.Context, release, step, reason string) {
	ev := fleet.UsageEvent{Kind: fleet.UpdateStep, Step: step, Release: release, Reason: reason}
	if _, err := a.Record(ctx, ev); err != nil {
		a.log.Warn("update: step not recorded", "step", step, "err", err)
	}
}

// writeFileSync writes an update file atomically and durably (pki.WriteFileAtomic, 0600).
func writeFileSync(path string, b []byte) error {
	return pki.WriteFileAtomic(path, b, 0o600)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
