// Package update installs signed A/B updates of the kiosk's root file system through RAUC, marks the
// booted slot good or bad, and reads which slot booted and whether the kiosk fell back from a bad one.
//
// It drives the real rauc binary (Debian 12's rauc 1.8): RAUC checks the bundle's signature against
// the image's keyring, writes the slot that is not running and tells GRUB to boot it next. Before
// that, Check refuses a bundle that is not signed by the keyring, whose payload is truncated or
// corrupt, that is built for another kind of device (compatible) or that is older than the running
// version (unless forced), so that nothing is written for a bundle that would be refused.
//
// It must never write the running slot or the state partition, and never reboot: the caller reboots
// when the kiosk is idle.
package update

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Why a bundle is refused; a *RefusedError wraps one of these.
var (
	// ErrSignature: the bundle is not signed by a key the keyring trusts.
	ErrSignature = errors.New("bundle not signed by a trusted key")
	// ErrCorrupt: the bundle is truncated, not a bundle, or its payload does not match its signed hash tree.
	ErrCorrupt = errors.New("bundle truncated or corrupt")
	// ErrIncompatible: the bundle is for another kind of device.
	ErrIncompatible = errors.New("bundle is for another device (compatible)")
	// ErrOlder: the bundle is older than the running version.
	ErrOlder = errors.New("bundle is older than the running version")
	// ErrUnordered: the bundle's and the running version cannot be ordered (not vX.Y.Z from git describe).
	ErrUnordered = errors.New("bundle and running versions cannot be ordered")
)

// RefusedError says which bundle was refused and why; errors.Is matches its Reason.
type RefusedError struct {
	Bundle string
	Reason error
	Detail string // what rauc said, or the versions compared
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("update %s refused: %v: %s", e.Bundle, e.Reason, e.Detail)
}

func (e *RefusedError) Unwrap() error { return e.Reason }

// RaucError is a rauc command that failed for a reason other than the bundle (no service, a slot
// that cannot be written, ...).
type RaucError struct {
	Args   []string
	Output string
	Err    error
}

func (e *RaucError) Error() string {
	return fmt.Sprintf("rauc %s: %v: %s", strings.Join(e.Args, " "), e.Err, lastLine(e.Output))
}

func (e *RaucError) Unwrap() error { return e.Err }

// Rauc runs the rauc binary.
type Rauc struct {
	// Path is the rauc binary; "" means "rauc" from PATH.
	Path string
	// Conf is RAUC's system.conf; "" means rauc's default, /etc/rauc/system.conf.
	Conf string
	// Keyring overrides the keyring of Conf for Check (tests, a build machine); "" uses Conf's.
	Keyring string
	// ScratchDir is where Check reads the whole payload through its hash tree (rauc extract) before
	// anything is written; it needs room for one root image. "" skips that read: rauc install then
	// checks each block against the hash tree as it writes the other slot and stops at a bad one,
	// leaving that slot marked not bootable (the running slot is never touched either way).
	ScratchDir string
}

// Bundle is what a bundle's signed manifest says.
type Bundle struct {
	Compatible string `json:"compatible"`
	Version    string `json:"version"`
}

// System is the running kiosk: what it is (RAUC's compatible) and its version.
type System struct {
	Compatible string
	Version    string
}

func (r Rauc) command(ctx context.Context, args ...string) (string, error) {
	path := r.Path
	if path == "" {
		path = "rauc"
	}
	var all []string
	if r.Conf != "" {
		all = append(all, "--conf="+r.Conf)
	}
	if r.Keyring != "" && len(args) > 0 && (args[0] == "info" || args[0] == "extract") {
		all = append(all, "--keyring="+r.Keyring)
	}
	all = append(all, args...)
	cmd := exec.CommandContext(ctx, path, all...)
	var out, errOut bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errOut
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("rauc not found (apt-get install rauc): %w", err)
		}
		return out.String(), &RaucError{Args: args, Output: errOut.String() + out.String(), Err: err}
	}
	return out.String(), nil
}

// Info reads a bundle's manifest after checking its signature (not its payload: see Check).
func (r Rauc) Info(ctx context.Context, bundle string) (Bundle, error) {
	out, err := r.command(ctx, "info", "--output-format=json", bundle)
	if err != nil {
		return Bundle{}, classify(bundle, err)
	}
	var b Bundle
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		return Bundle{}, fmt.Errorf("rauc info %s: %w", bundle, err)
	}
	return b, nil
}

// Check verifies a bundle before anything is written: its signature, that it is for this device
// and not older than the running version (unless force), and, with a ScratchDir, its whole payload
// through its hash tree (rauc info does not read the payload; rauc extract does).
func (r Rauc) Check(ctx context.Context, bundle string, sys System, force bool) (Bundle, error) {
	if _, err := os.Stat(bundle); err != nil {
		return Bundle{}, fmt.Errorf("update bundle: %w", err)
	}
	b, err := r.Info(ctx, bundle)
	if err != nil {
		return Bundle{}, err
	}
	if b.Compatible != sys.Compatible {
		return b, &RefusedError{Bundle: bundle, Reason: ErrIncompatible,
			Detail: fmt.Sprintf("bundle %q, this kiosk %q", b.Compatible, sys.Compatible)}
	}
	if !force {
		if err := newerOrSame(b.Version, sys.Version); err != nil {
			return b, &RefusedError{Bundle: bundle, Reason: err,
				Detail: fmt.Sprintf("bundle %s, running %s (force to install anyway)", b.Version, sys.Version)}
		}
	}
	if r.ScratchDir == "" {
		return b, nil
	}
	scratch, err := os.MkdirTemp(r.ScratchDir, "ssu-update-")
	if err != nil {
		return b, fmt.Errorf("update scratch folder: %w", err)
	}
	defer os.RemoveAll(scratch)
	// rauc extract wants a folder that does not exist yet.
	if _, err := r.command(ctx, "extract", bundle, scratch+"/payload"); err != nil {
		return b, classify(bundle, err)
	}
	return b, nil
}

// Install checks a bundle (see Check) and has RAUC write it to the slot that is not running and
// make that slot the one GRUB boots next. It does not reboot.
func (r Rauc) Install(ctx context.Context, bundle string, sys System, force bool) (Bundle, error) {
	b, err := r.Check(ctx, bundle, sys, force)
	if err != nil {
		return b, err
	}
	if _, err := r.command(ctx, "install", bundle); err != nil {
		return b, classify(bundle, err)
	}
	return b, nil
}

// MarkGood marks the booted slot good: GRUB stops counting its tries.
func (r Rauc) MarkGood(ctx context.Context) error {
	_, err := r.command(ctx, "status", "mark-good", "booted")
	return err
}

// MarkBad marks the booted slot bad: GRUB will not boot it again until a new install.
func (r Rauc) MarkBad(ctx context.Context) error {
	_, err := r.command(ctx, "status", "mark-bad", "booted")
	return err
}

// classify turns what rauc said about a bundle into a RefusedError when the bundle is at fault.
func classify(bundle string, err error) error {
	var re *RaucError
	if !errors.As(err, &re) {
		return err
	}
	out := strings.ToLower(re.Output)
	refused := func(reason error) error {
		return &RefusedError{Bundle: bundle, Reason: reason, Detail: lastLine(re.Output)}
	}
	switch {
	case strings.Contains(out, "payload is corrupted"), strings.Contains(out, "verification of data area failed"),
		strings.Contains(out, "invalid bundle format"), strings.Contains(out, "exceeds bundle size"),
		strings.Contains(out, "bundle too small"), strings.Contains(out, "failed to load bundle"):
		return refused(ErrCorrupt)
	case strings.Contains(out, "signature verification failed"), strings.Contains(out, "failed to verify"),
		strings.Contains(out, "verify error"):
		return refused(ErrSignature)
	case strings.Contains(out, "compatible mismatch"):
		return refused(ErrIncompatible)
	}
	return err
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
