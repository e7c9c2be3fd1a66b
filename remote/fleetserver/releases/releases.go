// Package releases publishes signed update bundles on the fleet server and serves them to kiosks.
// Publish stores a bundle in a folder beside the store after it verifies against the fleet's update
// keyring (provisioning/update: its signature and whole payload), and records its version, size,
// sha256 and signer; Downloads serves the bundles over HTTPS with range requests, so an interrupted
// download resumes, to clients whose certificate the fleet CA issued (enrolled kiosks).
//
// It must never publish a bundle that did not verify, never replace a published version, and never
// serve a bundle to a client without a verified certificate or to a kiosk Refused names.
package releases

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"ssu-kiosk/provisioning/update"
	"ssu-kiosk/remote/fleet"
	"ssu-kiosk/remote/fleetserver/rollout"
	"ssu-kiosk/remote/fleetserver/store"
)

// Verifier checks a bundle against the fleet's update keyring; update.Rauc implements it.
type Verifier interface {
	Verify(ctx context.Context, bundle string) (update.Verified, error)
}

// Store records releases and the audit log; *store.Store implements it.
type Store interface {
	AddRelease(ctx context.Context, r store.StoredRelease) error
	StoredReleaseByVersion(ctx context.Context, version string) (store.StoredRelease, bool, error)
	StoredReleases(ctx context.Context) ([]store.StoredRelease, error)
	AddAudit(ctx context.Context, e store.AuditEntry) error
}

// Catalog is the fleet's published releases.
type Catalog struct {
	Dir      string // where bundles are kept, e.g. beside the store
	Store    Store
	Verifier Verifier
	BaseURL  string // where kiosks reach Downloads, e.g. https://fleet.example:8443
	MaxSize  int64  // largest bundle accepted; default 4 GiB
	// Refused, if set, says whether a kiosk (its certificate's CN) is refused downloads although its
	// certificate verifies: a revoked kiosk.
	Refused func(ctx context.Context, kiosk string) (bool, error)

	served atomic.Int64 // bundle bytes served
	gets   atomic.Int64 // bundle requests answered
}

// ErrRefused: the bundle did not verify; the wrapping error says why.
var ErrRefused = errors.New("bundle refused")

// ErrExists: that version is already published.
var ErrExists = errors.New("release already published")

// Publish reads a bundle from r, verifies it and records it, by who.
func (c *Catalog) Publish(ctx context.Context, who string, r io.Reader) (store.StoredRelease, error) {
	if err := os.MkdirAll(c.Dir, 0o750); err != nil {
		return store.StoredRelease{}, fmt.Errorf("publish: %w", err)
	}
	tmp, err := os.CreateTemp(c.Dir, "upload-*.raucb")
	if err != nil {
		return store.StoredRelease{}, fmt.Errorf("publish: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	max := c.MaxSize
	if max <= 0 {
		max = 4 << 30
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, max+1))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return store.StoredRelease{}, fmt.Errorf("publish: upload: %w", err)
	}
	if n > max {
		return store.StoredRelease{}, fmt.Errorf("publish: %w: larger than %d bytes", ErrRefused, max)
	}
	v, err := c.Verifier.Verify(ctx, tmp.Name())
	if err != nil {
		var re *update.RefusedError
		if errors.As(err, &re) {
			return store.StoredRelease{}, fmt.Errorf("publish: %w: %v: %s", ErrRefused, re.Reason, re.Detail)
		}
		return store.StoredRelease{}, fmt.Errorf("publish: %w: %v", ErrRefused, err)
	}
	if err := validVersion(v.Version); err != nil {
		return store.StoredRelease{}, fmt.Errorf("publish: %w: %v", ErrRefused, err)
	}
	if _, ok, err := c.Store.StoredReleaseByVersion(ctx, v.Version); err != nil {
		return store.StoredRelease{}, fmt.Errorf("publish: %w", err)
	} else if ok {
		return store.StoredRelease{}, fmt.Errorf("publish %s: %w", v.Version, ErrExists)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	rel := store.StoredRelease{Version: v.Version, Size: n, SHA256: sum, Signer: v.Signer, File: sum + ".raucb",
		PublishedBy: who, PublishedAt: time.Now()}
	if err := os.Rename(tmp.Name(), filepath.Join(c.Dir, rel.File)); err != nil {
		return store.StoredRelease{}, fmt.Errorf("publish: %w", err)
	}
	if err := c.Store.AddRelease(ctx, rel); err != nil {
		return store.StoredRelease{}, fmt.Errorf("publish: %w", err)
	}
	if err := c.Store.AddAudit(ctx, store.AuditEntry{At: rel.PublishedAt, Who: who, Action: "release.publish", Subject: rel.Version,
		Detail: fmt.Sprintf("%d bytes, sha256 %s, signed by %s", rel.Size, rel.SHA256, rel.Signer)}); err != nil {
		return rel, fmt.Errorf("publish: %w", err)
	}
	return rel, nil
}

// validVersion: a release's version goes into commands and events, so it must pass their checks.
func validVersion(v string) error {
	ev := fleet.UsageEvent{V: fleet.Version, ID: fleet.NewEventID(), Kind: fleet.UpdateStep, Kiosk: "k", At: time.Now(), Release: v}
	if v == "" || ev.Validate() != nil {
		return fmt.Errorf("version %q cannot be sent to kiosks", v)
	}
	return nil
}

// Release implements rollout.Releases.
func (c *Catalog) Release(ctx context.Context, version string) (rollout.Release, bool, error) {
	r, ok, err := c.Store.StoredReleaseByVersion(ctx, version)
	if err != nil || !ok {
		return rollout.Release{}, ok, err
	}
	return c.ForRollout(r), true, nil
}

// ForRollout is a stored release as a rollout sends it.
func (c *Catalog) ForRollout(r store.StoredRelease) rollout.Release {
	return rollout.Release{Version: r.Version, Size: r.Size, SHA256: r.SHA256, Signer: r.Signer,
		URL: strings.TrimSuffix(c.BaseURL, "/") + "/releases/" + r.File}
}

// Served returns the bundle bytes served and the requests answered since start.
func (c *Catalog) Served() (bytes, requests int64) { return c.served.Load(), c.gets.Load() }

// Downloads serves GET /releases/<sha256>.raucb with range requests, to clients with a verified
// certificate only (serve it with a tls.Config that asks for and verifies the fleet CA's client
// certificates: DownloadTLS).
func (c *Catalog) Downloads() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			http.Error(w, "a kiosk certificate is required", http.StatusForbidden)
			return
		}
		if c.Refused != nil {
			refused, err := c.Refused(r.Context(), r.TLS.VerifiedChains[0][0].Subject.CommonName)
			if err != nil {
				http.Error(w, "cannot check revocations", http.StatusServiceUnavailable)
				return
			}
			if refused {
				http.Error(w, "this kiosk is revoked", http.StatusForbidden)
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, "/releases/")
		sum, ok2 := strings.CutSuffix(name, ".raucb")
		if !ok || !ok2 || len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" {
			http.NotFound(w, r)
			return
		}
		f, err := os.Open(filepath.Join(c.Dir, name))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			http.Error(w, "unreadable", http.StatusInternalServerError)
			return
		}
		c.gets.Add(1)
		http.ServeContent(&countingWriter{ResponseWriter: w, n: &c.served}, r, name, st.ModTime(), f)
	})
}

// countingWriter adds what it writes to n as it goes, so a download cut short counts too.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n.Add(int64(n))
	return n, err
}

// List returns every published release, newest first.
func (c *Catalog) List(ctx context.Context) ([]store.StoredRelease, error) {
	return c.Store.StoredReleases(ctx)
}
