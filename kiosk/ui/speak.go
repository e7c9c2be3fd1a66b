package ui

import (
	"time"

	"github.com/hajimehoshi/ebiten/v2"

	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/kiosk/ui/speech"
)

// Speaker is what the UI asks of speech (speech.Speaker): every screen's spoken form, and the speech keys.
type Speaker interface {
	Say(speech.Utterance)
	Warn(speech.Utterance)
	Toggle()
	Repeat()
	Louder()
	Quieter()
}

// The speech keys. Speech comes on by itself when a headset is plugged in; without one (or on a kiosk
// with no jack detection) holding SpeechKey for SpeechHold turns it on, and holding it again turns it off.
const (
	SpeechKey   = ebiten.KeyF12
	SpeechHold  = 2 * time.Second
	RepeatKey   = ebiten.KeyF11
	LouderKey   = ebiten.KeyF10
	QuieterKey  = ebiten.KeyF9
	languageKey = ebiten.KeyF6
	textSizeKey = ebiten.KeyF7
)

// heard is what was last spoken about: speech follows changes of screen, language, focus and the
// focused field, not the seconds a countdown shows.
type heard struct {
	id       flow.ScreenID
	lang     string
	focus    Target
	length   int
	fieldErr string
	notices  int
}

// speak says what changed since the last frame.
func (g *Game) speak() {
	if g.opts.Speech == nil || g.screen.ID == "" {
		return
	}
	now := heard{id: g.screen.ID, lang: string(g.screen.Lang), focus: g.focus, notices: len(g.screen.Body)}
	if f, ok := g.screen.Field(g.focus.Field); ok && g.focus.Kind == TargetField {
		now.length, now.fieldErr = f.Length, f.Error
	}
	if now == g.heard {
		return
	}
	part := speech.FocusOnly
	if now.id != g.heard.id || now.lang != g.heard.lang || now.notices != g.heard.notices || now.fieldErr != g.heard.fieldErr {
		part = speech.Whole
	}
	warn := now.id == flow.MoreTime && g.heard.id != flow.MoreTime
	g.heard = now
	focus := speech.Focus{Field: g.focus.Field, Button: g.focus.Button}
	if g.focus.Kind == TargetButton {
		if it, ok := g.plan.Find(g.focus); ok && len(it.Lines) > 0 {
			focus.Label = it.Lines[0]
		}
	}
	u := speech.Script(g.screen, focus, part)
	if warn {
		g.opts.Speech.Warn(u)
		return
	}
	g.opts.Speech.Say(u)
}

// speechKeys handles the speech keys: held SpeechKey (timed by the clock, since no frames come while a
// key is only held), repeat and volume.
func (g *Game) speechKeys(in Input, now time.Time) {
	sp := g.opts.Speech
	if sp == nil {
		return
	}
	for _, k := range in.Keys {
		switch k {
		case SpeechKey:
			g.speechKeyAt, g.speechKeyDone = now, false
			// Look again when it has been held long enough (twice: a wake-up can be lost while the loop is busy).
			time.AfterFunc(SpeechHold, Wake)
			time.AfterFunc(SpeechHold+50*time.Millisecond, Wake)
		case RepeatKey:
			sp.Repeat()
		case LouderKey:
			sp.Louder()
		case QuieterKey:
			sp.Quieter()
		}
	}
	if !g.speechKeyAt.IsZero() && !g.speechKeyDone {
		switch {
		case !in.SpeechKeyHeld:
			g.speechKeyAt = time.Time{}
		case now.Sub(g.speechKeyAt) >= SpeechHold:
			g.speechKeyDone = true
			g.log.Info("speech key held")
			sp.Toggle()
		}
	}
}
