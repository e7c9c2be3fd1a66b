package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"ssu-kiosk/remote/identity/errcat"
)

// Config says where the identity service is and how the kiosk proves who it is.
type Config struct {
	// BaseURL is the service's address, such as https://idservice.example:8443 (no /v1).
	BaseURL string
	// ServiceCAs is the only set of CAs trusted for the service's certificate (pinning).
	ServiceCAs *x509.CertPool
	// Certificate is the kiosk's device certificate and key, for mutual TLS.
	Certificate tls.Certificate
	// Timeout bounds each attempt; 10 s when zero.
	Timeout time.Duration
	// Retries is how many more attempts an idempotent call gets after a network failure or a 502/503/504;
	// 2 when zero, none when negative.
	Retries int
	// RetryWait is the first wait between attempts, doubled each time; 200 ms when zero.
	RetryWait time.Duration
	// Logger receives one line per attempt (method, path, status, request id, never a body); slog.Default
	// when nil.
	Logger *slog.Logger
	// WrapTransport, when set, wraps the client's HTTPS transport: for tests that check every call against
	// the contract (idtest.ContractTransport). nil leaves the transport as it is.
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// Client speaks the identity contract. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	http      *http.Client
	retries   int
	retryWait time.Duration
	timeout   time.Duration
	log       *slog.Logger
}

// ServiceError is an error answer from the service. The client returns it wrapped in an *errcat.Error, so
// errcat.CodeOf finds the code and errors.As finds the details.
type ServiceError struct {
	Status int
	Body   ErrorBody
}

func (e *ServiceError) Error() string {
	return fmt.Sprintf("identity service answered %d (request %s)", e.Status, e.Body.RequestID)
}

// NewClient checks cfg and returns a client whose TLS trusts only cfg.ServiceCAs.
func NewClient(cfg Config) (*Client, error) {
	if cfg.ServiceCAs == nil {
		return nil, errors.New("identity client: no service CA configured")
	}
	if len(cfg.Certificate.Certificate) == 0 {
		return nil, errors.New("identity client: no kiosk certificate configured")
	}
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("identity client: base URL %q must be https://host[:port]", cfg.BaseURL)
	}
	c := &Client{base: u, retries: cfg.Retries, retryWait: cfg.RetryWait, timeout: cfg.Timeout, log: cfg.Logger}
	if c.timeout <= 0 {
		c.timeout = 10 * time.Second
	}
	if c.retries == 0 {
		c.retries = 2
	} else if c.retries < 0 {
		c.retries = 0
	}
	if c.retryWait <= 0 {
		c.retryWait = 200 * time.Millisecond
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{
			RootCAs:      cfg.ServiceCAs,
			Certificates: []tls.Certificate{cfg.Certificate},
			MinVersion:   tls.VersionTLS12,
		},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: c.timeout,
	}
	var rt http.RoundTripper = tr
	if cfg.WrapTransport != nil {
		rt = cfg.WrapTransport(tr)
	}
	c.http = &http.Client{Transport: rt}
	return c, nil
}

// LoadTLS reads the service CA bundle and the kiosk's certificate and key (PEM files) for Config.
func LoadTLS(serviceCAFile, certFile, keyFile string) (*x509.CertPool, tls.Certificate, error) {
	pem, err := os.ReadFile(serviceCAFile)
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("read service CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, tls.Certificate{}, fmt.Errorf("read service CA: no PEM certificate in %s", serviceCAFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("load kiosk certificate: %w", err)
	}
	return pool, cert, nil
}

// Close drops idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

type requestIDKey struct{}

// WithRequestID returns a context whose calls carry id as their request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id set by WithRequestID.
func RequestIDFrom(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(requestIDKey{}).(string)
	return id, ok && id != ""
}

// NewRequestID returns a fresh random request id.
func NewRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Challenge asks for a nonce for the card to sign. Retried.
func (c *Client) Challenge(ctx context.Context) (Challenge, error) {
	var out Challenge
	err := c.call(ctx, http.MethodPost, "/v1/challenges", struct{}{}, &out, true)
	return out, err
}

// StartSession presents the card and its proof. Not retried: the nonce is single-use.
func (c *Client) StartSession(ctx context.Context, req StartSessionRequest) (Session, error) {
	var out Session
	err := c.call(ctx, http.MethodPost, "/v1/sessions", req, &out, false)
	return out, err
}

// SendCode asks for a code to go to the address the person typed. Not retried: sends are counted.
func (c *Client) SendCode(ctx context.Context, sessionID string, req SendCodeRequest) (SendCodeResult, error) {
	var out SendCodeResult
	err := c.call(ctx, http.MethodPost, sessionPath(sessionID, "code"), req, &out, false)
	return out, err
}

// VerifyCode checks the code the person typed and, when right, returns the card's SOPIN, once.
// Not retried: wrong codes are counted and the release happens once. The caller zeroes the SOPIN.
func (c *Client) VerifyCode(ctx context.Context, sessionID string, code Secret) (Release, error) {
	var out Release
	err := c.call(ctx, http.MethodPost, sessionPath(sessionID, "verification"), VerifyCodeRequest{Code: code}, &out, false)
	return out, err
}

// Complete reports how the session ended. Retried: reporting the same outcome twice is harmless.
func (c *Client) Complete(ctx context.Context, sessionID string, req CompleteRequest) error {
	return c.call(ctx, http.MethodPost, sessionPath(sessionID, "completion"), req, nil, true)
}

func sessionPath(id, step string) string {
	return "/v1/sessions/" + url.PathEscape(id) + "/" + step
}

const maxAnswer = 1 << 20

func (c *Client) call(ctx context.Context, method, path string, in, out any, idempotent bool) error {
	var body []byte
	var err error
	if a, ok := in.(jsonAppender); ok {
		body = a.AppendJSON(make([]byte, 0, 512))
	} else if body, err = json.Marshal(in); err != nil {
		return errcat.Wrap(errcat.ERR2008, fmt.Errorf("encode %s: %w", path, err))
	}
	defer clear(body) // it may hold a code or an address
	rid, ok := RequestIDFrom(ctx)
	if !ok {
		rid = NewRequestID()
	}
	attempts := 1
	if idempotent {
		attempts += c.retries
	}
	wait := c.retryWait
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return errcat.Wrap(errcat.ERR2008, fmt.Errorf("%s %s: %w (after %v)", method, path, ctx.Err(), last))
			case <-t.C:
			}
			wait *= 2
		}
		retry, err := c.attempt(ctx, method, path, rid, body, out)
		if err == nil {
			return nil
		}
		last = err
		if !retry || ctx.Err() != nil {
			return err
		}
	}
	return last
}

// attempt makes one request; retry says whether a failure is worth another go.
func (c *Client) attempt(ctx context.Context, method, path, rid string, body []byte, out any) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, bytes.NewReader(body))
	if err != nil {
		return false, errcat.Wrap(errcat.ERR2008, fmt.Errorf("%s %s: %w", method, path, err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set(RequestIDHeader, rid)
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.log.Warn("identity call failed", "method", method, "path", path, "request_id", rid, "err", err)
		return true, errcat.Wrap(errcat.ERR2008, fmt.Errorf("%s %s: %w", method, path, err))
	}
	defer resp.Body.Close()
	c.log.Info("identity call", "method", method, "path", path, "status", resp.StatusCode,
		"request_id", rid, "ms", time.Since(start).Milliseconds())
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	defer clear(data)
	if err != nil {
		return true, errcat.Wrap(errcat.ERR2008, fmt.Errorf("%s %s: read answer: %w", method, path, err))
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil || resp.StatusCode == http.StatusNoContent {
			return false, nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return false, errcat.Wrap(errcat.ERR1010, fmt.Errorf("%s %s: decode answer: %w", method, path, err))
		}
		return false, nil
	}
	se := &ServiceError{Status: resp.StatusCode}
	if json.Unmarshal(data, &se.Body) != nil || se.Body.Code == "" {
		se.Body.Code = errcat.ERR1010
	}
	if se.Body.RequestID == "" {
		se.Body.RequestID = rid
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		retry = true
	}
	return retry, errcat.Wrap(se.Body.Code, fmt.Errorf("%s %s: %w", method, path, se))
}
