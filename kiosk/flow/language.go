package flow

import (
	"net/url"
	"time"

	"ssu-kiosk/kiosk/flow/texts"
)

// LanguageChosen is the person choosing the language of the screens and speech: on the first screen or on
// any later one, without losing their place. The choice lasts until the session ends.
type LanguageChosen struct {
	At   time.Time
	Lang texts.Lang
}

// Time is when the choice was made.
func (e LanguageChosen) Time() time.Time { return e.At }

// Text is a message of the catalogue (package texts) with its arguments, kept as it is until the screen
// is drawn, so it follows the language chosen since. An argument that is itself a Text is translated
// too. Sentence adds a full stop (an error title used as a sentence).
type Text struct {
	Key      string
	Args     []any
	Sentence bool
}

// Language is the language the screens are shown in now.
func (m *Machine) Language() texts.Lang {
	if m.lang == "" {
		return texts.English
	}
	return m.lang
}

func (m *Machine) onLanguageChosen(e LanguageChosen) {
	if e.Lang.Valid() {
		m.lang = e.Lang
	}
}

// printer is the catalogue in the current language.
func (m *Machine) printer() *texts.Printer {
	l := m.Language()
	if m.printers == nil {
		m.printers = map[texts.Lang]*texts.Printer{}
	}
	p, ok := m.printers[l]
	if !ok {
		p = texts.NewPrinter(l)
		m.printers[l] = p
	}
	return p
}

// t formats the catalogue's message key in the current language.
func (m *Machine) t(key string, args ...any) string { return m.printer().Sprintf(key, args...) }

// tIfKnown translates s when it is a message of the catalogue (a setting left at its default) and
// leaves it as it is otherwise (an operator's own wording, in the language they wrote it).
func (m *Machine) tIfKnown(s string) string {
	if m.printer().Has(s) {
		return m.t(s)
	}
	return s
}

func (m *Machine) say(t Text) string {
	args := make([]any, len(t.Args))
	for i, a := range t.Args {
		if at, ok := a.(Text); ok {
			a = m.say(at)
		}
		args[i] = a
	}
	s := m.t(t.Key, args...)
	if t.Sentence {
		s += "."
	}
	return s
}

// MissingTexts lists the messages the screens asked for that the catalogue lacks in some language (tests).
func (m *Machine) MissingTexts() []string {
	var out []string
	for _, p := range m.printers {
		out = append(out, p.Missing()...)
	}
	return out
}

// helpURL is the troubleshooting address in the current language (a lang query parameter when not
// English), so the QR code opens the help pages in the language the person chose.
func (m *Machine) helpURL() string {
	u := m.cfg.TroubleshootingURL
	if u == "" || m.Language() == texts.English {
		return u
	}
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	q := p.Query()
	q.Set("lang", string(m.Language()))
	p.RawQuery = q.Encode()
	return p.String()
}
