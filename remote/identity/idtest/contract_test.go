package idtest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

type recordReporter struct {
	mu   sync.Mutex
	errs []string
}

func (r *recordReporter) Helper() {}
func (r *recordReporter) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestContractCheckCatchesDrift: the check itself finds an answer the contract does not describe, and a
// request the contract refuses that the service accepts.
func TestContractCheckCatchesDrift(t *testing.T) {
	kioskCA := NewCA(t, "Kiosk CA")
	for name, tc := range map[string]struct {
		answer string
		status int
		body   string
		ctype  string
		breaks bool
	}{
		"a good answer":                {`{"nonce":"AAAA","expiresAt":"2026-01-01T00:00:00Z"}`, 200, `{}`, "application/json", false},
		"an answer missing a field":    {`{"nonce":"AAAA"}`, 200, `{}`, "application/json", true},
		"an error answer without code": {`{"message":"no"}`, 400, `{}`, "application/json", true},
		"a refused request accepted":   {`{"nonce":"AAAA","expiresAt":"2026-01-01T00:00:00Z"}`, 200, `{"extra":1}`, "application/json", true},
		"a refused request refused":    {`{"code":"ERR1012","message":"no"}`, 400, `{"extra":1}`, "application/json", false},
	} {
		rep := &recordReporter{}
		srv := httptest.NewUnstartedServer(ContractCheck(rep, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(tc.status)
			_, _ = w.Write([]byte(tc.answer))
		})))
		srv.TLS = serverTLS(t, kioskCA)
		srv.StartTLS()
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS(t, kioskCA, "kiosk-1")}}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/challenges", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.ctype)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		srv.Close()
		if got := len(rep.errs) > 0; got != tc.breaks {
			t.Errorf("%s: breach reported %v, want %v: %q", name, got, tc.breaks, rep.errs)
		}

		// The same on the kiosk's side, through ContractTransport.
		rep = &recordReporter{}
		srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(tc.status)
			_, _ = w.Write([]byte(tc.answer))
		}))
		srv.TLS = serverTLS(t, kioskCA)
		srv.StartTLS()
		hc = &http.Client{Transport: ContractTransport(rep)(&http.Transport{TLSClientConfig: clientTLS(t, kioskCA, "kiosk-1")})}
		req, _ = http.NewRequest(http.MethodPost, srv.URL+"/v1/challenges", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.ctype)
		resp, err = hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		srv.Close()
		if got := len(rep.errs) > 0; got != tc.breaks {
			t.Errorf("%s, kiosk side: breach reported %v, want %v: %q", name, got, tc.breaks, rep.errs)
		}
	}
}
