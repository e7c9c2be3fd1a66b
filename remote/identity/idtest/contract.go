package idtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"ssu-kiosk/remote/identity"
)

// The contract, loaded once per test binary.
var (
	contractOnce   sync.Once
	contractRouter routers.Router
	contractErr    error
)

func loadContract() (routers.Router, error) {
	contractOnce.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(identity.OpenAPI)
		if err != nil {
			contractErr = fmt.Errorf("load openapi.yaml: %w", err)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			contractErr = fmt.Errorf("openapi.yaml is not valid: %w", err)
			return
		}
		doc.Servers = nil // match the test server's address, not the example one
		contractRouter, contractErr = legacy.NewRouter(doc)
	})
	return contractRouter, contractErr
}

// mutualTLSAuth accepts the contract's mutualTLS scheme when the request came with a verified client
// certificate (the TLS listener verified the chain; the service checks the rest).
func mutualTLSAuth(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecurityScheme == nil || in.SecurityScheme.Type != "mutualTLS" {
		return fmt.Errorf("unexpected security scheme %v", in.SecurityScheme)
	}
	r := in.RequestValidationInput.Request
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		return errors.New("no verified client certificate")
	}
	return nil
}

// clientMutualTLS accepts the mutualTLS scheme on the kiosk's side, where the client's transport presents
// the certificate (identity.NewClient refuses a configuration without one).
func clientMutualTLS(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecurityScheme == nil || in.SecurityScheme.Type != "mutualTLS" {
		return fmt.Errorf("unexpected security scheme %v", in.SecurityScheme)
	}
	return nil
}

// Reporter is where ContractCheck reports a breach: a *testing.T or *testing.B.
type Reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// exchange is one request and its answer, as they went over the wire.
type exchange struct {
	req    *http.Request // its Body is not read: body holds it
	body   []byte
	status int
	header http.Header
	answer []byte
}

// checkExchange reports how an exchange breaks the contract: a request the contract refuses must be refused
// by the service (4xx), a path it does not name must get 404 or 405, and every answer must be one the
// contract describes.
func checkExchange(t Reporter, router routers.Router, auth openapi3filter.AuthenticationFunc, x exchange) {
	t.Helper()
	opts := &openapi3filter.Options{AuthenticationFunc: auth, IncludeResponseStatus: true}
	check := x.req.Clone(x.req.Context())
	check.Body = io.NopCloser(bytes.NewReader(x.body))
	route, params, err := router.FindRoute(check)
	if err != nil {
		if x.status != http.StatusNotFound && x.status != http.StatusMethodNotAllowed {
			t.Errorf("contract: %s %s is not in openapi.yaml but was answered %d", x.req.Method, x.req.URL.Path, x.status)
		}
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(x.req.Context(), in); err != nil && (x.status < 400 || x.status >= 500) {
		t.Errorf("contract: %s %s breaks openapi.yaml (%v) but the service answered %d", x.req.Method, x.req.URL.Path, err, x.status)
	}
	rin := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: x.status, Header: x.header, Options: opts}
	rin.SetBodyBytes(x.answer)
	if err := openapi3filter.ValidateResponse(x.req.Context(), rin); err != nil {
		t.Errorf("contract: the answer %d to %s %s breaks openapi.yaml: %v", x.status, x.req.Method, x.req.URL.Path, err)
	}
}

// ContractCheck wraps the service's handler so that every request and answer of a test is checked against
// openapi.yaml (identity.OpenAPI) with kin-openapi's openapi3filter (see checkExchange). Breaches are
// reported to t as errors.
func ContractCheck(t Reporter, next http.Handler) http.Handler {
	router, err := loadContract()
	if err != nil {
		t.Helper()
		t.Errorf("%v", err)
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		r.Body.Close()
		defer clear(body) // it may hold a code or an address
		rec := httptest.NewRecorder()
		req := r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(rec, r)
		answer := rec.Result()
		data := rec.Body.Bytes()
		defer clear(data) // it may hold a SOPIN
		checkExchange(t, router, mutualTLSAuth, exchange{req: req, body: body, status: answer.StatusCode, header: answer.Header, answer: data})
		for k, v := range answer.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(answer.StatusCode)
		_, _ = w.Write(data)
	})
}

// ContractTransport wraps a kiosk client's transport (identity.Config.WrapTransport) so that every call
// is checked against openapi.yaml on the kiosk's side, as ContractCheck does on the service's: for tests
// that run the service as its own process.
func ContractTransport(t Reporter) func(http.RoundTripper) http.RoundTripper {
	return func(next http.RoundTripper) http.RoundTripper {
		router, err := loadContract()
		if err != nil {
			t.Helper()
			t.Errorf("%v", err)
			return next
		}
		return &contractTransport{t: t, router: router, next: next}
	}
}

type contractTransport struct {
	t      Reporter
	router routers.Router
	next   http.RoundTripper
}

func (c *contractTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
	}
	out := r.Clone(r.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := c.next.RoundTrip(out)
	if err != nil {
		clear(body)
		return nil, err
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		clear(body)
		return nil, err
	}
	checkExchange(c.t, c.router, clientMutualTLS, exchange{req: r, body: body, status: resp.StatusCode, header: resp.Header, answer: answer})
	clear(body) // it may hold a code or an address
	// The client reads the answer from this test-only copy (a check in tests, never in a program).
	resp.Body = io.NopCloser(bytes.NewReader(answer))
	return resp, nil
}

// CloseIdleConnections passes on to the wrapped transport (identity.Client.Close).
func (c *contractTransport) CloseIdleConnections() {
	if ci, ok := c.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// serverTLS and clientTLS are a mutual-TLS pair from one kiosk CA.
func serverTLS(tb testing.TB, ca *CA) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{ca.ServerCert(tb)}, ClientCAs: ca.Pool(),
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
}

func clientTLS(tb testing.TB, ca *CA, kioskID string) *tls.Config {
	return &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{ca.KioskCert(tb, kioskID)}, MinVersion: tls.VersionTLS12}
}
