package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"time"

	"ssu-kiosk/provisioning/pki"
)

const releaseUsage = `usage: ssu-ctl release publish --server URL --user NAME --password-file F [--ca FILE] BUNDLE

Uploads a signed update bundle to ssu-fleetd, signed in as an IT admin. The server verifies it against
the fleet's update keyring and prints its version, size, sha256 and signer, or refuses it with the reason.
`

func runRelease(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "publish" {
		fmt.Fprint(stderr, releaseUsage)
		return 2
	}
	fs := flag.NewFlagSet("ssu-ctl release publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "", "ssu-fleetd's dashboard, e.g. https://fleet.example")
	user := fs.String("user", "", "an IT admin's account")
	pwFile := fs.String("password-file", "", "a file holding the account's password (first line)")
	caFile := fs.String("ca", "", "CA certificate the server's certificate chains to (default: the system's)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *server == "" || *user == "" || *pwFile == "" || fs.NArg() != 1 {
		fmt.Fprint(stderr, releaseUsage)
		return 2
	}
	rel, err := publishRelease(ctx, *server, *user, *pwFile, *caFile, fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "ssu-ctl release publish:", err)
		return 1
	}
	fmt.Fprintf(stdout, "published %s: %d bytes, sha256 %s, signed by %s\n", rel.Version, rel.Size, rel.SHA256, rel.Signer)
	return 0
}

type publishedRelease struct {
	Version string `json:"version"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	Signer  string `json:"signer"`
}

func publishRelease(ctx context.Context, server, user, pwFile, caFile, bundle string) (publishedRelease, error) {
	var rel publishedRelease
	pw, err := os.ReadFile(pwFile)
	if err != nil {
		return rel, err
	}
	password, _, _ := strings.Cut(string(pw), "\n")
	f, err := os.Open(bundle)
	if err != nil {
		return rel, err
	}
	defer f.Close()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pool, err := pki.LoadPool(caFile)
		if err != nil {
			return rel, err
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: tr, Jar: jar, Timeout: time.Hour,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	server = strings.TrimSuffix(server, "/")

	// Sign in as the dashboard does, then take the session's CSRF token from /api/me.
	form := url.Values{"name": {user}, "password": {password}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, server+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return rel, fmt.Errorf("sign in: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(jar.Cookies(req.URL)) == 0 {
		return rel, fmt.Errorf("sign in as %s refused (%s)", user, resp.Status)
	}
	var me struct {
		Role string `json:"role"`
		CSRF string `json:"csrf_token"`
	}
	if err := getJSON(ctx, c, server+"/api/me", &me); err != nil {
		return rel, err
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, server+"/api/releases", f)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-CSRF-Token", me.CSRF)
	if st, err := f.Stat(); err == nil {
		req.ContentLength = st.Size()
	}
	resp, err = c.Do(req)
	if err != nil {
		return rel, fmt.Errorf("upload: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusCreated {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return rel, fmt.Errorf("refused (%s): %s", resp.Status, e.Error)
		}
		return rel, fmt.Errorf("refused: %s", resp.Status)
	}
	if err := json.Unmarshal(body, &rel); err != nil {
		return rel, fmt.Errorf("the server's answer: %w", err)
	}
	return rel, nil
}

func getJSON(ctx context.Context, c *http.Client, u string, v any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return errors.Join(fmt.Errorf("%s", u), err)
	}
	return nil
}
