package update

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// Verified is a bundle whose signature and whole payload the keyring accepts.
type Verified struct {
	Bundle
	Signer string // the signing certificate's subject, e.g. "CN=ssu-kiosk release"
}

// Verify checks a bundle as the fleet server does before it publishes one: its signature against
// the keyring and its whole payload through its hash tree. It does not look at any device: the
// kiosks check their compatible and version again when they install.
func (r Rauc) Verify(ctx context.Context, bundle string) (Verified, error) {
	b, err := r.Info(ctx, bundle)
	if err != nil {
		return Verified{}, err
	}
	out, err := r.command(ctx, "info", "--dump-cert", bundle)
	if err != nil {
		return Verified{}, classify(bundle, err)
	}
	v := Verified{Bundle: b}
	for _, line := range strings.Split(out, "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "Subject:"); ok {
			v.Signer = strings.TrimSpace(s)
			break
		}
	}
	scratch, err := os.MkdirTemp(r.ScratchDir, "ssu-verify-")
	if err != nil {
		return v, fmt.Errorf("update scratch folder: %w", err)
	}
	defer os.RemoveAll(scratch)
	if _, err := r.command(ctx, "extract", bundle, scratch+"/payload"); err != nil {
		return v, classify(bundle, err)
	}
	return v, nil
}

// FleetInstaller installs the bundles the fleet link downloads (it implements link.Installer): RAUC
// checks the bundle again (signature, payload, compatible, not older unless allowed) and writes the
// other slot. It refuses a bundle whose manifest is not the version the command named.
type FleetInstaller struct {
	Rauc   Rauc
	System System // the running kiosk (ReadSystem)
}

// Install implements link.Installer.
func (i FleetInstaller) Install(ctx context.Context, bundle, version string, allowOlder bool) error {
	b, err := i.Rauc.Info(ctx, bundle)
	if err != nil {
		return err
	}
	if b.Version != version {
		return &RefusedError{Bundle: bundle, Reason: ErrCorrupt, Detail: fmt.Sprintf("bundle says %s, the update command %s", b.Version, version)}
	}
	_, err = i.Rauc.Install(ctx, bundle, i.System, allowOlder)
	return err
}
