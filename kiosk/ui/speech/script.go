package speech

import (
	"strings"

	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/kiosk/flow/texts"
)

// Utterance is what to say, in which language.
type Utterance struct {
	Screen flow.ScreenID
	Lang   texts.Lang
	// Text is spoken; Log is the same words with any typed address left out, for logs and tests.
	Text, Log string
}

// Focus is what the keyboard focus is on: a field, a button, or neither.
type Focus struct {
	Field  flow.FieldID
	Button flow.ButtonID
	// Label is the focused button's label when the screen model does not hold it (the header's buttons).
	Label string
}

// Part says how much of the screen to speak.
type Part int

// The parts.
const (
	// Whole is the whole screen: title, text, fields, then the focus and what can be done next.
	Whole Part = iota
	// FocusOnly is the focused field or button and what can be done next (focus moved, a digit typed).
	FocusOnly
)

// Script is the spoken form of screen sc with the focus on focus.
func Script(sc flow.Screen, focus Focus, part Part) Utterance {
	p := texts.NewPrinter(sc.Lang)
	var say, log []string
	both := func(s string) { say, log = append(say, s), append(log, s) }
	if part == Whole {
		both(sentence(sc.Title))
		for _, b := range sc.Body {
			both(sentence(b))
		}
		if sc.Error != nil {
			both(p.Sprintf("Error code %s. Kiosk %s.", string(sc.Error.Code), sc.Error.KioskID))
		}
	}
	for _, f := range sc.Fields {
		if part == FocusOnly && f.ID != focus.Field {
			continue
		}
		s, l := fieldText(p, f)
		say, log = append(say, s), append(log, l)
		if f.Error != "" {
			both(p.Sprintf("Error: %s", f.Error))
		}
	}
	if part == Whole && sc.Busy {
		both(p.Sprintf("Please wait."))
	}
	both(next(p, sc, focus))
	u := Utterance{Screen: sc.ID, Lang: p.Lang(), Text: strings.Join(nonEmpty(say), " "), Log: strings.Join(nonEmpty(log), " ")}
	return u
}

// fieldText says a field: a masked one as a count only, an address spelled out (logged as "…").
func fieldText(p *texts.Printer, f flow.Field) (say, log string) {
	switch {
	case f.Masked, f.Kind == flow.KindCode, f.Kind == flow.KindPasscode: // a code or passcode: a count, whatever the model holds
		s := p.Sprintf("%s, %d of %d entered.", f.Label, f.Length, f.MaxLength)
		return s, s
	case f.Value == "":
		s := p.Sprintf("%s, text field, empty.", f.Label)
		return s, s
	}
	return p.Sprintf("%s, text field: %s.", f.Label, spell(f.Value)), p.Sprintf("%s, text field: %s.", f.Label, "…")
}

// spell separates the characters so the engine says them one by one.
func spell(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// next says what the person can do now.
func next(p *texts.Printer, sc flow.Screen, focus Focus) string {
	if focus.Button != "" {
		label := focus.Label
		if b, ok := sc.Button(focus.Button); ok {
			label = b.Label
		}
		if label != "" {
			return p.Sprintf("Press Enter to choose %s. Tab moves to the next item, Escape cancels.", label)
		}
	}
	if sc.ID == flow.MoreTime {
		return p.Sprintf("Press Enter for more time.")
	}
	_, cancel := sc.Button(flow.ButtonCancel)
	for _, b := range sc.Buttons {
		if b.Primary && cancel { // said even while it waits for the field to be filled
			return p.Sprintf("Press Enter to continue, Escape to cancel.")
		}
	}
	if len(sc.Buttons) > 0 || len(sc.Fields) > 0 {
		return p.Sprintf("Press Tab to move between fields and buttons, Escape to cancel.")
	}
	return ""
}

func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s[len(s)-1:], ".?!:…") {
		return s
	}
	return s + "."
}

func nonEmpty(ss []string) []string {
	out := ss[:0]
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
