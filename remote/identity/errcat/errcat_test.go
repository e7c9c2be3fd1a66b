package errcat

import (
	"errors"
	"fmt"
	"regexp"
	"testing"
)

func TestCatalogueIsWellFormed(t *testing.T) {
	seen := map[Code]bool{}
	re := regexp.MustCompile(`^ERR[0-9]{4}$`)
	for _, e := range All() {
		if !re.MatchString(string(e.Code)) {
			t.Errorf("bad code %q", e.Code)
		}
		if seen[e.Code] {
			t.Errorf("duplicate code %s", e.Code)
		}
		seen[e.Code] = true
		if e.Title == "" || e.Advice == "" {
			t.Errorf("%s: title and advice are both needed", e.Code)
		}
	}
	if got := MustLookup(ERR1009).String(); got != "ERR1009: Failed to obtain SOPIN for user" {
		t.Errorf("ERR1009 = %q", got)
	}
}

func TestCodeSurvivesWrapping(t *testing.T) {
	err := fmt.Errorf("unlock: %w", Wrap(ERR2003, errors.New("card removed")))
	c, ok := CodeOf(err)
	if !ok || c != ERR2003 {
		t.Fatalf("CodeOf = %q %v", c, ok)
	}
	if Wrap(ERR2003, nil) != nil {
		t.Fatal("Wrap(nil) must be nil")
	}
}
