package ui

import (
	"time"

	"github.com/hajimehoshi/ebiten/v2"

	"ssu-kiosk/kiosk/flow"
)

// Input is what the person did since the last frame: characters typed, keys pressed, points touched.
type Input struct {
	Chars []rune
	Keys  []ebiten.Key
	// Ctrl, Alt and Shift are the modifiers held while the keys were pressed.
	Ctrl, Alt, Shift bool
	// Touches are the points (pixels) where a mouse button or a finger went down.
	Touches [][2]float64
	// SpeechKeyHeld is whether the speech key is down now.
	SpeechKeyHeld bool
}

// DemoKey is a key that only demo mode listens to.
type DemoKey int

// The demo keys.
const (
	DemoToggleCard DemoKey = iota // F2: insert or remove the demo card
	DemoNextCard                  // F3: pick the next demo card
)

// apply maps input to walk-through events, given the current plan and focus. It moves the UI's focus
// itself (Tab, Shift+Tab, touches) and calls demo for F2/F3 when demo mode is on. F6 switches the
// language and F7 the larger-text look, like the header's buttons. Lock-down: any key or
// character with Ctrl or Alt held is ignored (Alt+F4, Ctrl+Q, Ctrl+W, Ctrl+Alt+Fn), and so are function
// keys outside demo mode.
func (g *Game) apply(in Input, now time.Time) []flow.Event {
	var out []flow.Event
	if in.Ctrl || in.Alt {
		return nil
	}
	for _, c := range in.Chars {
		if c >= ' ' && c != 0x7f {
			out = append(out, flow.Typed{At: now, Char: c})
		}
	}
	for _, k := range in.Keys {
		switch k {
		case ebiten.KeyBackspace:
			out = append(out, flow.Erased{At: now})
		case ebiten.KeyTab:
			if ev, ok := g.moveFocus(in.Shift, now); ok {
				out = append(out, ev)
			}
		case ebiten.KeyEnter, ebiten.KeyNumpadEnter:
			if g.focus.Kind == TargetButton {
				out = append(out, g.press(g.focus.Button, now)...)
			} else {
				out = append(out, flow.Submitted{At: now})
			}
		case ebiten.KeySpace:
			// Space presses a focused button; in a field it is a character (handled above).
			if g.focus.Kind == TargetButton {
				out = append(out, g.press(g.focus.Button, now)...)
			}
		case languageKey:
			out = append(out, g.press(ButtonLanguage, now)...)
		case textSizeKey:
			out = append(out, g.press(ButtonTextSize, now)...)
		case ebiten.KeyEscape:
			for _, id := range []flow.ButtonID{flow.ButtonBack, flow.ButtonCancel} {
				if b, ok := g.screen.Button(id); ok && b.Enabled {
					out = append(out, flow.Pressed{At: now, Button: id})
					break
				}
			}
		case ebiten.KeyF2:
			if g.opts.Demo != nil {
				g.opts.Demo(DemoToggleCard)
			}
		case ebiten.KeyF3:
			if g.opts.Demo != nil {
				g.opts.Demo(DemoNextCard)
			}
		}
	}
	for _, pt := range in.Touches {
		t, ok := g.plan.Hit(pt[0], pt[1])
		if !ok {
			continue
		}
		switch t.Kind {
		case TargetButton:
			g.focus = Target{}
			out = append(out, g.press(t.Button, now)...)
		case TargetField:
			g.focus = t
			out = append(out, flow.Focused{At: now, Field: t.Field})
		case TargetKey:
			if t.Key.Erase {
				out = append(out, flow.Erased{At: now})
				continue
			}
			for _, c := range t.Key.Text {
				out = append(out, flow.Typed{At: now, Char: c})
			}
		}
	}
	return out
}

// press is a button pressed: the header's are the UI's own (the language becomes a LanguageChosen, the
// text size changes the look), the others go to the walk-through.
func (g *Game) press(id flow.ButtonID, now time.Time) []flow.Event {
	switch id {
	case ButtonLanguage:
		return []flow.Event{flow.LanguageChosen{At: now, Lang: g.screen.Lang.Other()}}
	case ButtonTextSize:
		g.look.Large = !g.look.Large
		g.dirty = true
		return nil
	}
	return []flow.Event{flow.Pressed{At: now, Button: id}}
}

// moveFocus moves the focus to the next (or previous) field or enabled button.
func (g *Game) moveFocus(back bool, now time.Time) (flow.Event, bool) {
	fs := g.plan.Focusables()
	if len(fs) == 0 {
		return nil, false
	}
	i := -1
	for j, t := range fs {
		if t == g.focus {
			i = j
		}
	}
	switch {
	case i < 0 && back:
		i = len(fs) - 1
	case i < 0:
		i = 0
	case back:
		i = (i - 1 + len(fs)) % len(fs)
	default:
		i = (i + 1) % len(fs)
	}
	g.focus = fs[i]
	if g.focus.Kind == TargetField {
		return flow.Focused{At: now, Field: g.focus.Field}, true
	}
	return nil, false
}
