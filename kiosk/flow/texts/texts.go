// Package texts is the kiosk's one message catalogue: every word a person reads on the screen or hears
// spoken, in English and in Welsh (Cymraeg). It is built on golang.org/x/text/message/catalog, whose
// messages are keyed by their English text (with fmt verbs) and whose plural forms follow CLDR, which Welsh
// needs (zero, one, two, few, many and other).
//
// The English messages are in english.go and the Welsh ones in welsh_draft.go, a draft until a Welsh
// speaker has reviewed it. Every key must be in both (TestEveryMessageHasEveryLanguage); a Printer counts
// the keys it was asked for that the catalogue lacks, so a walk-through test can prove nothing on screen
// was left out.
//
// It holds only fixed wording: it must never be given a passcode, security code, email address or phone
// number to format.
package texts

import (
	"sort"
	"sync"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"

	"ssu-kiosk/remote/identity/errcat"
)

// Lang is a language the kiosk speaks, as a BCP 47 tag.
type Lang string

// The languages.
const (
	English Lang = "en"
	Welsh   Lang = "cy"
)

// Langs lists the languages, the default first.
func Langs() []Lang { return []Lang{English, Welsh} }

// Valid reports whether l is one of Langs.
func (l Lang) Valid() bool { return l == English || l == Welsh }

// Name is the language's name in itself ("English", "Cymraeg").
func (l Lang) Name() string {
	if l == Welsh {
		return "Cymraeg"
	}
	return "English"
}

// Other is the language the switch on every screen offers.
func (l Lang) Other() Lang {
	if l == Welsh {
		return English
	}
	return Welsh
}

func (l Lang) tag() language.Tag {
	if l == Welsh {
		return language.MustParse("cy")
	}
	return language.English
}

// book is the built catalogue and, per language, the keys it holds.
type book struct {
	cat  *catalog.Builder
	keys map[Lang]map[string]bool
}

// The catalogue is built once, from the tables in english.go and welsh_draft.go, and never changes.
var load = sync.OnceValue(func() *book {
	b := &book{cat: catalog.NewBuilder(catalog.Fallback(language.English)), keys: map[Lang]map[string]bool{}}
	add := func(l Lang, key string, m catalog.Message) {
		if b.keys[l] == nil {
			b.keys[l] = map[string]bool{}
		}
		b.keys[l][key] = true
		if err := b.cat.Set(l.tag(), key, m); err != nil {
			panic("texts: " + key + ": " + err.Error()) // a mistake in the tables, found by the tests
		}
	}
	for _, k := range englishKeys() {
		m, ok := englishForms[k]
		if !ok {
			m = catalog.String(k)
		}
		add(English, k, m)
	}
	for k, m := range welsh {
		add(Welsh, k, m)
	}
	return b
})

// englishKeys is every key: the kiosk's own messages and the error catalogue's titles and advice.
func englishKeys() []string {
	keys := append([]string(nil), english...)
	for k := range englishForms {
		keys = append(keys, k)
	}
	for _, e := range errcat.All() {
		keys = append(keys, e.Title, e.Advice)
	}
	sort.Strings(keys)
	out := keys[:0]
	for i, k := range keys {
		if i == 0 || k != keys[i-1] {
			out = append(out, k)
		}
	}
	return out
}

// Keys lists every message key, sorted.
func Keys() []string { return englishKeys() }

// Has reports whether the catalogue holds key in l.
func Has(l Lang, key string) bool { return load().keys[l][key] }

// Printer formats messages in one language. It is not safe for concurrent use.
type Printer struct {
	lang    Lang
	p       *message.Printer
	missing map[string]bool
}

// NewPrinter returns a Printer for l (English when l is not a known language).
func NewPrinter(l Lang) *Printer {
	if !l.Valid() {
		l = English
	}
	return &Printer{lang: l, p: message.NewPrinter(l.tag(), message.Catalog(load().cat)), missing: map[string]bool{}}
}

// Lang is the printer's language.
func (p *Printer) Lang() Lang { return p.lang }

// Sprintf formats the message key in the printer's language. A key the language lacks is formatted in
// English and remembered (Missing).
func (p *Printer) Sprintf(key string, args ...any) string {
	if !Has(p.lang, key) {
		p.missing[key] = true
	}
	return p.p.Sprintf(key, args...)
}

// Has reports whether the printer's language holds key.
func (p *Printer) Has(key string) bool { return Has(p.lang, key) }

// Missing lists the keys asked for that the printer's language lacks, sorted.
func (p *Printer) Missing() []string {
	var out []string
	for k := range p.missing {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
