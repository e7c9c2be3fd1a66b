package releases_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/provisioning/update"
	"ssu-kiosk/remote/fleet/fleettest"
	"ssu-kiosk/remote/fleetserver/releases"
	"ssu-kiosk/remote/fleetserver/store"
	"ssu-kiosk/remote/fleetserver/store/storetest"
)

type verifier struct{}

func (verifier) Verify(_ context.Context, path string) (update.Verified, error) {
	b, _ := os.ReadFile(path)
	if bytes.HasPrefix(b, []byte("corrupt")) {
		return update.Verified{}, &update.RefusedError{Bundle: path, Reason: update.ErrCorrupt, Detail: "payload is corrupted"}
	}
	return update.Verified{Bundle: update.Bundle{Version: "v2.0.0"}, Signer: "CN=release"}, nil
}

func TestPublishAndDownloads(t *testing.T) {
	ctx := context.Background()
	st := storetest.SQLite(t, store.Options{})
	cat := &releases.Catalog{Dir: t.TempDir(), Store: st, Verifier: verifier{}}
	if _, err := cat.Publish(ctx, "it", strings.NewReader("corrupt bundle")); !errors.Is(err, releases.ErrRefused) || !strings.Contains(err.Error(), "payload is corrupted") {
		t.Fatalf("a corrupt bundle: %v", err)
	}
	body := bytes.Repeat([]byte("0123456789"), 10000)
	rel, err := cat.Publish(ctx, "it", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	if rel.SHA256 != hex.EncodeToString(sum[:]) || rel.Size != int64(len(body)) || rel.Version != "v2.0.0" || rel.Signer != "CN=release" {
		t.Fatalf("published %+v", rel)
	}

	p := fleettest.NewPKI(t)
	srv := httptest.NewUnstartedServer(cat.Downloads())
	srv.TLS = p.CA.ServerTLS(p.Server)
	srv.StartTLS()
	defer srv.Close()
	cat.BaseURL = srv.URL
	url := cat.ForRollout(rel).URL

	// No client certificate: the TLS handshake is refused.
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: p.Client(t, "kiosk-0001").Clone()}}
	anon.Transport.(*http.Transport).TLSClientConfig.Certificates = nil
	if resp, err := anon.Get(url); err == nil {
		resp.Body.Close()
		t.Fatalf("downloaded without a client certificate: %s", resp.Status)
	}
	kiosk := &http.Client{Transport: &http.Transport{TLSClientConfig: p.Client(t, "kiosk-0001")}}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Range", "bytes=50000-")
	resp, err := kiosk.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, body[50000:]) {
		t.Fatalf("range request: %s, %d bytes", resp.Status, len(got))
	}
	// The count is added as each write returns, which may be just after the client has read it all.
	fleettest.Eventually(t, 5*time.Second, func() bool {
		n, reqs := cat.Served()
		return n == int64(len(body)-50000) && reqs == 1
	}, "the bytes served are counted")
	// A revoked kiosk, its certificate still valid, downloads nothing.
	cat.Refused = func(_ context.Context, k string) (bool, error) { return k == "kiosk-0002", nil }
	revoked := &http.Client{Transport: &http.Transport{TLSClientConfig: p.Client(t, "kiosk-0002")}}
	if resp, err := revoked.Get(url); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a revoked kiosk's download: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	for _, bad := range []string{"/releases/../fleet.db", "/releases/" + strings.Repeat("g", 64) + ".raucb", "/other"} {
		resp, err := kiosk.Get(srv.URL + bad)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %s", bad, resp.Status)
		}
	}
}
