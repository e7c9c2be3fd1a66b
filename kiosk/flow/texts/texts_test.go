package texts

import (
	"strings"
	"testing"
)

// Every message is in every language, and the Welsh table holds nothing the English one lacks.
func TestEveryMessageHasEveryLanguage(t *testing.T) {
	keys := Keys()
	if len(keys) < 100 {
		t.Fatalf("only %d messages", len(keys))
	}
	for _, l := range Langs() {
		for _, k := range keys {
			if !Has(l, k) {
				t.Errorf("%s lacks %q", l, k)
			}
		}
	}
	all := map[string]bool{}
	for _, k := range keys {
		all[k] = true
	}
	for k := range welsh {
		if !all[k] {
			t.Errorf("Welsh has %q, which no English message has", k)
		}
	}
	t.Logf("%d messages in each of %d languages", len(keys), len(Langs()))
}

func TestPrinter(t *testing.T) {
	cy := NewPrinter(Welsh)
	if got := cy.Sprintf("Continue"); got != "Parhau" {
		t.Errorf("Welsh Continue = %q", got)
	}
	for n, want := range map[int]string{1: "1 cynnig", 2: "2 gynnig", 3: "3 chynnig", 5: "5 cynnig"} {
		if got := cy.Sprintf("%d tries", n); got != want {
			t.Errorf("Welsh %d tries = %q, want %q", n, got, want)
		}
	}
	en := NewPrinter(English)
	if got := en.Sprintf("%d tries", 1); got != "1 try" {
		t.Errorf("English 1 tries = %q", got)
	}
	if got := en.Sprintf("The code is valid for %s more. You have %s.", "2 minutes", "3 tries"); !strings.Contains(got, "2 minutes") {
		t.Errorf("got %q", got)
	}
	if got := cy.Sprintf("not in the catalogue"); got != "not in the catalogue" || len(cy.Missing()) != 1 {
		t.Errorf("missing key: %q, Missing %v", got, cy.Missing())
	}
}
