package enrol

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"ssu-kiosk/provisioning/pki"
)

// Client calls an enrolment server.
type Client struct {
	// Server is the fleet server's base URL (https://host[:port]); a trailing /enrol is accepted.
	Server string
	// HTTP is the client to use; NewHTTPClient makes one that trusts a CA file or a pinned key.
	HTTP *http.Client
}

// NewHTTPClient returns an HTTP client for the enrolment server. With caFile, the server's
// certificate must chain to the CAs in it; with pin (hex SHA-256 of a SubjectPublicKeyInfo, see
// SPKIPin), the server's certificate or one of the CAs it presents must have that public key; with
// neither, the system's roots are trusted.
func NewHTTPClient(caFile, pin string) (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case caFile != "" && pin != "":
		return nil, errors.New("give a CA file or a CA pin, not both")
	case caFile != "":
		pool, err := pki.LoadPool(caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	case pin != "":
		want, err := hex.DecodeString(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(pin)), "sha256:"))
		if err != nil || len(want) != sha256.Size {
			return nil, errors.New("ca pin: want the hex SHA-256 of a public key (64 characters)")
		}
		// The chain is checked in VerifyConnection, against the pinned key instead of the system roots.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error { return verifyPinned(cs, want) }
	}
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig: cfg, Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: 15 * time.Second,
	}}, nil
}

// SPKIPin returns the pin of a certificate's public key: hex SHA-256 of its SubjectPublicKeyInfo
// (the same as `openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum`).
func SPKIPin(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

func verifyPinned(cs tls.ConnectionState, want []byte) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("ca pin: the server sent no certificate")
	}
	leaf := cs.PeerCertificates[0]
	for _, c := range cs.PeerCertificates {
		sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
		if subtle.ConstantTimeCompare(sum[:], want) != 1 {
			continue
		}
		if c == leaf {
			return nil // the handshake proved the server holds the pinned key
		}
		roots, inter := x509.NewCertPool(), x509.NewCertPool()
		roots.AddCert(c)
		for _, i := range cs.PeerCertificates[1:] {
			inter.AddCert(i)
		}
		_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: cs.ServerName})
		if err != nil {
			return fmt.Errorf("ca pin: %w", err)
		}
		return nil
	}
	return errors.New("ca pin: no certificate the server presented has the pinned public key")
}

func (c *Client) url(path string) (string, error) {
	base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(c.Server), "/"), "/enrol")
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("server %q is not a URL such as https://fleet.example.nhs.uk", c.Server)
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("server %q: only https is allowed (tokens and keys are secrets)", c.Server)
	}
	return base + path, nil
}

// do sends in as JSON and decodes the answer into out; admin, when set, is sent as a bearer token.
func (c *Client) do(ctx context.Context, method, path string, admin []byte, in, out any) error {
	u, err := c.url(path)
	if err != nil {
		return err
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		defer clear(b)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if admin != nil {
		req.Header.Set("Authorization", "Bearer "+string(admin))
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("enrolment server: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("enrolment server: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e apiError
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			return fmt.Errorf("enrolment server: HTTP %d", resp.StatusCode)
		}
		if sentinel, ok := codeErrors[e.Code]; ok {
			return fmt.Errorf("enrolment server refused: %w", sentinel)
		}
		return fmt.Errorf("enrolment server refused (HTTP %d): %s", resp.StatusCode, e.Error)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("enrolment server answer: %w", err)
	}
	return nil
}

// CreateToken asks for an enrolment token for a site and ward, as an admin.
func (c *Client) CreateToken(ctx context.Context, admin []byte, site, ward string) (TokenResponse, error) {
	var out TokenResponse
	err := c.do(ctx, http.MethodPost, PathTokens, admin, TokenRequest{Site: site, Ward: ward}, &out)
	return out, err
}

// Revoke revokes a kiosk, as an admin.
func (c *Client) Revoke(ctx context.Context, admin []byte, kioskID string) (RevokeResponse, error) {
	var out RevokeResponse
	err := c.do(ctx, http.MethodPost, PathRevoke, admin, RevokeRequest{Kiosk: kioskID}, &out)
	return out, err
}

// Enrol redeems a token for a certificate of the CSR's key (use Device.Enrol on a kiosk).
func (c *Client) Enrol(ctx context.Context, token []byte, csrPEM []byte) (*Enrolment, error) {
	var out Enrolment
	if err := c.do(ctx, http.MethodPost, PathKiosks, nil, EnrolRequest{Token: string(token), CSR: string(csrPEM)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Renew asks for a new certificate for the current one's key (use Device.Renew on a kiosk).
func (c *Client) Renew(ctx context.Context, certPEM, csrPEM []byte) (*Renewal, error) {
	var out Renewal
	if err := c.do(ctx, http.MethodPost, PathRenew, nil, RenewRequest{Certificate: string(certPEM), CSR: string(csrPEM)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
