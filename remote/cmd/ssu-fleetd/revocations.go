package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"ssu-kiosk/provisioning/enrol"
	"ssu-kiosk/provisioning/pki"
	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleetserver/store"
)

// revoker is the embedded broker as the revocation loops see it.
type revoker interface {
	Revoke(kiosk string)
}

// loadRevocations hands the embedded broker every kiosk the enrolment store holds revoked. ssu-fleetd
// calls it before the broker takes its first connection and then every interval (keepRevocations),
// so a revocation made by another server sharing the enrolment store (or before a restart) holds here
// too, whether or not this process serves enrolment.
func loadRevocations(ctx context.Context, st enrol.Store, b revoker) (int, error) {
	ids, err := st.RevokedKiosks(ctx)
	if err != nil {
		return 0, fmt.Errorf("load revocations: %w", err)
	}
	for _, id := range ids {
		b.Revoke(id)
	}
	return len(ids), nil
}

// keepRevocations reloads the enrolment store's revocations every interval until ctx ends.
func keepRevocations(ctx context.Context, st enrol.Store, b revoker, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := loadRevocations(ctx, st, b); err != nil && ctx.Err() == nil {
			log.Error("revocations: reloading from the enrolment store failed; the ones already loaded still hold", "err", err)
		}
	}
}

// crlSetter is the embedded broker as the CRL watcher sees it.
type crlSetter interface {
	SetCRL(crl *x509.RevocationList)
}

// watchCRL re-reads the CRL file whenever its modification time or size changes (checked every
// interval) and hands it to the broker. A file that cannot be read or is not signed by the fleet CA
// is logged and ignored: the last good list stays in force. So is a list issued before the one in
// force (inForce; see issuedBefore), so an old list put back cannot let a revoked kiosk in again.
func watchCRL(ctx context.Context, file, caFile string, b crlSetter, every time.Duration, seen os.FileInfo, inForce *x509.RevocationList, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fi, err := os.Stat(file)
		if err != nil {
			log.Error("revocations: the CRL file cannot be read; the last one loaded still holds", "file", file, "err", err)
			continue
		}
		if seen != nil && fi.ModTime().Equal(seen.ModTime()) && fi.Size() == seen.Size() {
			continue
		}
		crl, err := pki.LoadCRL(file, caFile)
		if err != nil {
			log.Error("revocations: the new CRL is refused; the last one loaded still holds", "err", err)
			seen = fi
			continue
		}
		if issuedBefore(crl, inForce) {
			log.Error("revocations: the new CRL was issued before the one in force, which still holds", "file", file,
				"this_update", crl.ThisUpdate, "in_force", inForce.ThisUpdate)
			seen = fi
			continue
		}
		b.SetCRL(crl)
		seen, inForce = fi, crl
		log.Info("revocations: CRL reloaded", "file", file, "revoked_certificates", len(crl.RevokedCertificateEntries))
	}
}

// issuedBefore reports whether crl was issued before the list in force (nil: none): an earlier thisUpdate,
// or, since CRL times have whole seconds, the same one with a lower CRL number.
func issuedBefore(crl, inForce *x509.RevocationList) bool {
	switch {
	case inForce == nil:
		return false
	case crl.ThisUpdate.Before(inForce.ThisUpdate):
		return true
	case crl.ThisUpdate.Equal(inForce.ThisUpdate) && crl.Number != nil && inForce.Number != nil:
		return crl.Number.Cmp(inForce.Number) < 0
	}
	return false
}

// loadCRL reads the CRL file at start, for the broker's configuration: a missing or unsigned file
// stops ssu-fleetd, since running without it would let revoked kiosks in.
func loadCRL(file, caFile string, log *slog.Logger) (*x509.RevocationList, os.FileInfo, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return nil, nil, fmt.Errorf("--crl: %w", err)
	}
	crl, err := pki.LoadCRL(file, caFile)
	if err != nil {
		return nil, nil, fmt.Errorf("--crl: %w", err)
	}
	if !crl.NextUpdate.IsZero() && time.Now().After(crl.NextUpdate) {
		log.Warn("revocations: the CRL is past its next update; it is used all the same", "file", file, "next_update", crl.NextUpdate)
	}
	return crl, fi, nil
}

// enrolledPlaces tells the fleet store where the enrolment service placed a kiosk (store.Enrolment):
// the site and ward of the token it enrolled with, as fleet place tokens.
type enrolledPlaces struct{ st enrol.Store }

func (e enrolledPlaces) EnrolledPlace(ctx context.Context, kiosk string) (store.Place, bool, error) {
	k, err := e.st.Kiosk(ctx, kiosk)
	if errors.Is(err, enrol.ErrKioskUnknown) {
		return store.Place{}, false, nil
	}
	if err != nil {
		return store.Place{}, false, err
	}
	site, err1 := fleet.PlaceToken(k.Site)
	ward, err2 := fleet.PlaceToken(k.Ward)
	if err1 != nil || err2 != nil {
		return store.Place{}, false, nil // a place the fleet cannot name: an IT admin places the kiosk
	}
	return store.Place{Site: site, Ward: ward}, true, nil
}

// demoPlace is where --demo files a kiosk that has no enrolment record (the simulated kiosks and the
// demo kiosk of `make run` have certificates straight from the demo CA): a demo site an RA demo account
// sees. Only ever used in demo mode; a real fleet keeps such kiosks unregistered.
var demoPlace = store.Place{Site: "st-james", Ward: "a-and-e"}

// demoPlaces is enrolledPlaces with demoPlace for kiosks the enrolment store does not know.
type demoPlaces struct{ enrolledPlaces }

func (d demoPlaces) EnrolledPlace(ctx context.Context, kiosk string) (store.Place, bool, error) {
	p, ok, err := d.enrolledPlaces.EnrolledPlace(ctx, kiosk)
	if err != nil || ok {
		return p, ok, err
	}
	return demoPlace, true, nil
}
