package web_test

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// TestPagesAreAccessible checks, on every page as an IT admin sees it, what an assistive technology
// relies on: the page's language, one main heading, a label for every form control, a name for every
// chart (role="img" with its title), alt text on images, and forms that post without JavaScript.
func TestPagesAreAccessible(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, "admin")
	for _, page := range []string{"/", "/kiosks/kiosk-0001", "/alerts", "/reports?month=2026-10", "/reports/print?month=2026-10"} {
		code, body := f.get(t, c, page)
		if code != http.StatusOK {
			t.Fatalf("%s: %d", page, code)
		}
		if controls, charts := checkAccessible(t, page, body); strings.HasPrefix(page, "/reports?") && (controls < 4 || charts < 2) {
			t.Errorf("%s: checked %d form controls and %d charts; the report page has more", page, controls, charts)
		}
	}
	code, body := f.get(t, f.client(t, ""), "/login")
	if code != http.StatusOK {
		t.Fatalf("/login: %d", code)
	}
	checkAccessible(t, "/login", body)
}

// checkAccessible fails t for what page lacks, and says how many form controls and charts it checked.
func checkAccessible(t *testing.T, page, body string) (controls, charts int) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v", page, err)
	}
	attr := func(n *html.Node, key string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == key {
				return a.Val, true
			}
		}
		return "", false
	}
	ids, labels := map[string]bool{}, map[string]bool{}
	var inputs, svgs, forms []*html.Node
	h1 := 0
	lang := ""
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if id, ok := attr(n, "id"); ok {
				ids[id] = true
			}
			switch n.Data {
			case "html":
				lang, _ = attr(n, "lang")
			case "h1":
				h1++
			case "label":
				if forID, ok := attr(n, "for"); ok {
					labels[forID] = true
				}
			case "input", "select", "textarea":
				if ty, _ := attr(n, "type"); ty != "hidden" && ty != "submit" {
					inputs = append(inputs, n)
				}
			case "svg":
				svgs = append(svgs, n)
			case "img":
				if _, ok := attr(n, "alt"); !ok {
					t.Errorf("%s: an image without alt text", page)
				}
			case "form":
				forms = append(forms, n)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if lang == "" {
		t.Errorf("%s: no lang on <html>", page)
	}
	if h1 != 1 {
		t.Errorf("%s: %d <h1>, want one", page, h1)
	}
	for _, n := range inputs {
		id, _ := attr(n, "id")
		_, named := attr(n, "aria-label")
		if !named && (id == "" || !labels[id]) {
			t.Errorf("%s: a <%s> (id %q) with no label", page, n.Data, id)
		}
	}
	for _, n := range svgs {
		role, _ := attr(n, "role")
		by, _ := attr(n, "aria-labelledby")
		_, hidden := attr(n, "aria-hidden")
		if !hidden && (role != "img" || by == "" || !ids[by]) {
			t.Errorf("%s: a chart with no accessible name (role %q, labelled by %q)", page, role, by)
		}
	}
	for _, n := range forms {
		method, _ := attr(n, "method")
		if _, ok := attr(n, "action"); !ok && method == "post" {
			t.Errorf("%s: a posting form with no action", page)
		}
	}
	return len(inputs), len(svgs)
}
