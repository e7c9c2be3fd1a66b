package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/hajimehoshi/ebiten/v2"

	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/kiosk/flow/texts"
)

type staticWalk struct{ sc flow.Screen }

func (s staticWalk) Handle(flow.Event) []flow.Effect { return nil }
func (s staticWalk) Screen() flow.Screen             { return s.sc }

func newTestGame(t *testing.T, sc flow.Screen, demo func(DemoKey)) *Game {
	t.Helper()
	g, err := New(Options{Walkthrough: staticWalk{sc}, Execute: func([]flow.Effect) {}, Fonts: testFonts(t), Demo: demo})
	if err != nil {
		t.Fatal(err)
	}
	g.ShowScreen(sc, 800, 480)
	return g
}

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func addressScreen() flow.Screen {
	return flow.Screen{ID: flow.EnterAddress, Title: "Enter your email address", Focus: flow.FieldAddress,
		Fields: []flow.Field{{ID: flow.FieldAddress, Kind: flow.KindEmail, Label: "Email address"}},
		Buttons: []flow.Button{{ID: flow.ButtonContinue, Label: "Continue", Primary: true, Enabled: true},
			{ID: flow.ButtonBack, Label: "Back", Enabled: true}, {ID: flow.ButtonCancel, Label: "Cancel", Enabled: true}}}
}

func TestLockDownKeysDoNothing(t *testing.T) {
	calls := 0
	g := newTestGame(t, addressScreen(), nil)
	for name, in := range map[string]Input{
		"Alt+F4":      {Alt: true, Keys: []ebiten.Key{ebiten.KeyF4}},
		"Ctrl+Q":      {Ctrl: true, Keys: []ebiten.Key{ebiten.KeyQ}, Chars: []rune{'q'}},
		"Ctrl+W":      {Ctrl: true, Keys: []ebiten.Key{ebiten.KeyW}, Chars: []rune{'w'}},
		"Ctrl+Alt+F1": {Ctrl: true, Alt: true, Keys: []ebiten.Key{ebiten.KeyF1}},
		"Ctrl+Alt+F7": {Ctrl: true, Alt: true, Keys: []ebiten.Key{ebiten.KeyF7}},
		"F2 off demo": {Keys: []ebiten.Key{ebiten.KeyF2, ebiten.KeyF3}},
	} {
		if evs := g.apply(in, now); len(evs) != 0 {
			t.Errorf("%s gave %v", name, evs)
		}
	}
	g = newTestGame(t, addressScreen(), func(DemoKey) { calls++ })
	g.apply(Input{Keys: []ebiten.Key{ebiten.KeyF2, ebiten.KeyF3}}, now)
	if calls != 2 {
		t.Errorf("demo keys called %d times, want 2", calls)
	}
	g.apply(Input{Alt: true, Keys: []ebiten.Key{ebiten.KeyF2}}, now)
	if calls != 2 {
		t.Error("Alt+F2 reached the demo")
	}
}

func TestKeyboardOperation(t *testing.T) {
	g := newTestGame(t, addressScreen(), nil)
	evs := g.apply(Input{Chars: []rune("a@b"), Keys: []ebiten.Key{ebiten.KeyBackspace}}, now)
	if len(evs) != 4 || evs[0] != (flow.Typed{At: now, Char: 'a'}) || evs[3] != (flow.Erased{At: now}) {
		t.Errorf("typing gave %v", evs)
	}
	if evs := g.apply(Input{Keys: []ebiten.Key{ebiten.KeyEnter}}, now); len(evs) != 1 || evs[0] != (flow.Submitted{At: now}) {
		t.Errorf("Enter in a field gave %v", evs)
	}
	// Tab: field → Continue → Back → Cancel → language → text size → field; Shift+Tab goes back.
	g.apply(Input{Keys: []ebiten.Key{ebiten.KeyTab}}, now)
	if g.focus.String() != "button:continue" {
		t.Errorf("after Tab focus is %s", g.focus)
	}
	g.apply(Input{Keys: []ebiten.Key{ebiten.KeyTab}}, now)
	if evs := g.apply(Input{Keys: []ebiten.Key{ebiten.KeyEnter}}, now); len(evs) != 1 || evs[0] != (flow.Pressed{At: now, Button: flow.ButtonBack}) {
		t.Errorf("Enter on Back gave %v", evs)
	}
	for range 3 {
		g.apply(Input{Keys: []ebiten.Key{ebiten.KeyTab}}, now)
	}
	evs = g.apply(Input{Keys: []ebiten.Key{ebiten.KeyTab}}, now)
	if g.focus.String() != "field:address" || len(evs) != 1 || evs[0] != (flow.Focused{At: now, Field: flow.FieldAddress}) {
		t.Errorf("Tab round: focus %s, events %v", g.focus, evs)
	}
	g.apply(Input{Shift: true, Keys: []ebiten.Key{ebiten.KeyTab}}, now)
	g.apply(Input{Shift: true, Keys: []ebiten.Key{ebiten.KeyTab}}, now)
	g.apply(Input{Shift: true, Keys: []ebiten.Key{ebiten.KeyTab}}, now)
	if g.focus.String() != "button:cancel" {
		t.Errorf("Shift+Tab: focus %s", g.focus)
	}
	if evs := g.apply(Input{Keys: []ebiten.Key{ebiten.KeyEscape}}, now); len(evs) != 1 || evs[0] != (flow.Pressed{At: now, Button: flow.ButtonBack}) {
		t.Errorf("Escape gave %v", evs)
	}
}

func TestTouchOnScreenKeys(t *testing.T) {
	g := newTestGame(t, addressScreen(), nil)
	tap := func(label string) []flow.Event {
		for _, it := range g.plan.Items {
			if it.Kind == ItemKey && it.Lines[0] == label {
				x, y := it.Rect.Center()
				return g.apply(Input{Touches: [][2]float64{{x, y}}}, now)
			}
		}
		t.Fatalf("no key %q", label)
		return nil
	}
	if evs := tap("@nhs.net"); len(evs) != 8 {
		t.Errorf("@nhs.net key gave %d events", len(evs))
	}
	if evs := tap("Delete"); len(evs) != 1 || evs[0] != (flow.Erased{At: now}) {
		t.Errorf("Delete key gave %v", evs)
	}
	it, _ := g.plan.Find(Target{Kind: TargetButton, Button: flow.ButtonContinue})
	x, y := it.Rect.Center()
	if evs := g.apply(Input{Touches: [][2]float64{{x, y}}}, now); len(evs) != 1 || evs[0] != (flow.Pressed{At: now, Button: flow.ButtonContinue}) {
		t.Errorf("touch on Continue gave %v", evs)
	}
	if evs := g.apply(Input{Touches: [][2]float64{{1, 1}}}, now); len(evs) != 0 {
		t.Errorf("touch on the header gave %v", evs)
	}
}

// The language and text-size switches are on every screen: F6 and F7, or the header's buttons.
func TestLanguageAndTextSizeSwitches(t *testing.T) {
	g := newTestGame(t, addressScreen(), nil)
	evs := g.apply(Input{Keys: []ebiten.Key{ebiten.KeyF6}}, now)
	if len(evs) != 1 || evs[0] != (flow.LanguageChosen{At: now, Lang: texts.Welsh}) {
		t.Fatalf("F6 gave %v, want Welsh chosen", evs)
	}
	it, ok := g.plan.Find(Target{Kind: TargetButton, Button: ButtonLanguage})
	if !ok || it.Lines[0] != "Cymraeg" {
		t.Fatalf("language button %+v", it)
	}
	x, y := it.Rect.Center()
	if evs := g.apply(Input{Touches: [][2]float64{{x, y}}}, now); len(evs) != 1 || evs[0] != (flow.LanguageChosen{At: now, Lang: texts.Welsh}) {
		t.Fatalf("tapping the language button gave %v", evs)
	}
	if evs := g.apply(Input{Keys: []ebiten.Key{ebiten.KeyF7}}, now); len(evs) != 0 || !g.look.Large {
		t.Fatalf("F7: events %v, large %v", evs, g.look.Large)
	}
	g.refresh()
	if g.plan.Look != (Look{Large: true}) || !strings.HasPrefix(g.plan.Fitted, "large") {
		t.Fatalf("after F7 the plan is %+v fitted %q", g.plan.Look, g.plan.Fitted)
	}
	if it, _ := g.plan.Find(Target{Kind: TargetButton, Button: ButtonTextSize}); it.Lines[0] != "Standard text" {
		t.Fatalf("text-size button reads %q with larger text on", it.Lines[0])
	}
}
