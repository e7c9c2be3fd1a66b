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

// Reporter is where ContractCheck reports a breach: a *testing.T or *testing.B.
type Reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// ContractCheck wraps the service's handler so that every request and answer of a test is checked against
// openapi.yaml (identity.OpenAPI) with kin-openapi's openapi3filter: a request the contract refuses must be
// refused by the service (4xx), a path it does not name must get 404 or 405, and every answer must be one
// the contract describes. Breaches are reported to t as errors.
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
		opts := &openapi3filter.Options{AuthenticationFunc: mutualTLSAuth, IncludeResponseStatus: true}

		rec := httptest.NewRecorder()
		check := r.Clone(r.Context())
		check.Body = io.NopCloser(bytes.NewReader(body))
		route, params, routeErr := router.FindRoute(check)
		var in *openapi3filter.RequestValidationInput
		var reqErr error
		if routeErr == nil {
			in = &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route, Options: opts}
			reqErr = openapi3filter.ValidateRequest(r.Context(), in)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(rec, r)
		answer := rec.Result()
		data := rec.Body.Bytes()

		switch {
		case routeErr != nil:
			if answer.StatusCode != http.StatusNotFound && answer.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("contract: %s %s is not in openapi.yaml but was answered %d", r.Method, r.URL.Path, answer.StatusCode)
			}
		case reqErr != nil && (answer.StatusCode < 400 || answer.StatusCode >= 500):
			t.Errorf("contract: %s %s breaks openapi.yaml (%v) but the service answered %d", r.Method, r.URL.Path, reqErr, answer.StatusCode)
		}
		if routeErr == nil {
			rin := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: answer.StatusCode,
				Header: answer.Header, Options: opts}
			rin.SetBodyBytes(data)
			if err := openapi3filter.ValidateResponse(r.Context(), rin); err != nil {
				t.Errorf("contract: the answer %d to %s %s breaks openapi.yaml: %v", answer.StatusCode, r.Method, r.URL.Path, err)
			}
		}

		for k, v := range answer.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(answer.StatusCode)
		_, _ = w.Write(data)
		clear(data) // it may hold a SOPIN
	})
}

// serverTLS and clientTLS are a mutual-TLS pair from one kiosk CA.
func serverTLS(tb testing.TB, ca *CA) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{ca.ServerCert(tb)}, ClientCAs: ca.Pool(),
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
}

func clientTLS(tb testing.TB, ca *CA, kioskID string) *tls.Config {
	return &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{ca.KioskCert(tb, kioskID)}, MinVersion: tls.VersionTLS12}
}
