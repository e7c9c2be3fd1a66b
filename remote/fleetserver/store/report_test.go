package store_test

import (
	"strings"
	"testing"

	"ssu-kiosk/remote/fleetserver/store"
)

// TestReportMeanings: reasons and error codes read in the error catalogue's words, in either spelling
// of a reason, and an unknown one says so rather than guessing.
func TestReportMeanings(t *testing.T) {
	for in, want := range map[string]string{
		"no-email":                 `ERR1002: "There is no email address on your profile"`,
		"no_email":                 `ERR1002: "There is no email address on your profile"`,
		"email-domain-not-allowed": "ERR1003",
		"certificates-expired":     "ERR1004",
		"card-not-genuine":         "ERR1005",
		"not-registered":           "ERR1001",
		"unspecified":              "did not record why",
		"something-new":            "does not know",
	} {
		if got := store.ReasonMeaning(in); !strings.Contains(got, want) {
			t.Errorf("ReasonMeaning(%q) = %q, want it to hold %q", in, got, want)
		}
	}
	if got := store.CodeMeaning("ERR2001"); !strings.Contains(got, `ERR2001: "Your smartcard could not be read"`) {
		t.Errorf("CodeMeaning(ERR2001) = %q", got)
	}
	if got := store.CodeMeaning("ERR9999"); !strings.Contains(got, "not in the error catalogue") {
		t.Errorf("CodeMeaning(ERR9999) = %q", got)
	}
}
