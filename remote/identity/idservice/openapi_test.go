package idservice_test

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestOpenAPIPathsAreServed keeps openapi.yaml and the handler in step: every documented path is served.
func TestOpenAPIPathsAreServed(t *testing.T) {
	doc, err := os.ReadFile("../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	paths := regexp.MustCompile(`(?m)^  (/v1/[^:]+):$`).FindAllStringSubmatch(string(doc), -1)
	if len(paths) < 6 {
		t.Fatalf("found %d paths in openapi.yaml", len(paths))
	}
	h := newHarness(t, sqliteDSN(t))
	s := h.start(h.client, samSerial)
	for _, p := range paths {
		path := strings.ReplaceAll(p[1], "{sessionId}", s.ID)
		if path == "/v1/health" {
			resp, err := h.srv.Client().Get(h.srv.URL + path) // no client certificate: the handshake fails
			if err == nil {
				resp.Body.Close()
				t.Errorf("health served without a client certificate")
			}
			continue
		}
		status, _, body := h.rawPost(kioskID, path, `{}`)
		if status == http.StatusNotFound && strings.Contains(string(body), "ERR1012") {
			t.Errorf("%s is documented but not served", p[1])
		}
	}
}
