package ui

import (
	"fmt"
	"image/color"
	"strings"
	"testing"

	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/kiosk/flow/texts"
	"ssu-kiosk/kiosk/ui/uitest"
	"ssu-kiosk/remote/identity/errcat"
)

var sizes = [][2]int{{800, 480}, {1024, 600}, {1280, 800}, {1366, 768}, {1920, 1080}}

func testFonts(t testing.TB) *Fonts {
	t.Helper()
	f, err := LoadFonts()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestLayoutEveryScreen lays out every screen the walk-through shows at every size and checks the rules:
// nothing outside the window, touch targets at least 48 px at 800x480 (and scaled up beyond), targets
// that do not overlap, and text that fits its width.
func TestLayoutEveryScreen(t *testing.T) {
	fonts := testFonts(t)
	screens := uitest.Screens()
	seen := map[flow.ScreenID]bool{}
	for _, s := range screens {
		seen[s.Screen.ID] = true
	}
	for _, id := range allScreens {
		if !seen[id] {
			t.Errorf("no sample of screen %s", id)
		}
	}
	type way struct {
		lang texts.Lang
		look Look
	}
	for _, wy := range []way{{texts.English, Look{}}, {texts.Welsh, Look{}}, {texts.English, Look{Large: true}}, {texts.Welsh, Look{Large: true}}} {
		screens := uitest.ScreensIn(wy.lang)
		for _, sz := range sizes {
			for _, s := range screens {
				p := LayoutLook(s.Screen, sz[0], sz[1], fonts, "St Example's, Ward 7", wy.look)
				name := fmt.Sprintf("%s/%s/large=%v", s.Name, wy.lang, wy.look.Large)
				minSide := minTarget * p.Scale
				var targets []Item
				for _, it := range p.Items {
					r := it.Rect
					if r.X < -0.5 || r.Y < -0.5 || r.X+r.W > float64(sz[0])+0.5 || r.Y+r.H > float64(sz[1])+0.5 {
						t.Errorf("%dx%d %s: item %v at %+v is outside the window", sz[0], sz[1], name, it.Lines, r)
					}
					if it.Kind == ItemText {
						for _, l := range it.Lines {
							if w := fonts.Advance(l, it.Size, it.Bold); w > r.W+1 && len(l) > 14 {
								t.Errorf("%dx%d %s: line %q is %.0f px wide in %.0f", sz[0], sz[1], name, l, w, r.W)
							}
						}
					}
					if it.Target.Kind != TargetNone {
						if r.W < minSide-0.01 || r.H < minSide-0.01 {
							t.Errorf("%dx%d %s: target %s is %.0fx%.0f, under %.0f px", sz[0], sz[1], name, it.Target, r.W, r.H, minSide)
						}
						targets = append(targets, it)
					}
				}
				for i := range targets {
					for j := i + 1; j < len(targets); j++ {
						if overlap(targets[i].Rect, targets[j].Rect) {
							t.Errorf("%dx%d %s: %s and %s overlap", sz[0], sz[1], name, targets[i].Target, targets[j].Target)
						}
					}
				}
				for _, b := range s.Screen.Buttons {
					if _, ok := p.Find(Target{Kind: TargetButton, Button: b.ID}); !ok {
						t.Errorf("%dx%d %s: button %s not placed", sz[0], sz[1], name, b.ID)
					}
				}
				if strings.HasSuffix(p.Fitted, "truncated") {
					t.Errorf("%dx%d %s: content had to be truncated", sz[0], sz[1], name)
				}
			}
		}
	}
}

var allScreens = []flow.ScreenID{flow.Welcome, flow.ReadingCard, flow.CardExpired, flow.CardUnreadable,
	flow.CardNotSupported, flow.StartNow, flow.CheckingEligibility, flow.NotEligible, flow.ChooseMethod,
	flow.EnterAddress, flow.SendingCode, flow.EnterCode, flow.VerifyingCode, flow.FaceVerification,
	flow.ChoosePasscode, flow.Unlocking, flow.Unlocked, flow.ReinsertCard, flow.ChangePasscode,
	flow.ChangingPasscode, flow.PasscodeChanged, flow.CardRemovedScreen, flow.RemoveCard, flow.ErrorScreen,
	flow.ServiceUnreachable, flow.MoreTime, flow.OutOfService}

func overlap(a, b Rect) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

func TestPadFollowsFocusedField(t *testing.T) {
	for _, tc := range []struct {
		kind flow.FieldKind
		want Pad
	}{{flow.KindEmail, PadKeyboard}, {flow.KindMobile, PadPhone}, {flow.KindCode, PadDigits}, {flow.KindPasscode, PadDigits}} {
		sc := flow.Screen{Fields: []flow.Field{{ID: flow.FieldAddress, Kind: tc.kind}}, Focus: flow.FieldAddress}
		if got := PadFor(sc); got != tc.want {
			t.Errorf("%s: pad %v, want %v", tc.kind, got, tc.want)
		}
	}
	if PadFor(flow.Screen{}) != PadNone {
		t.Error("a screen with no field has a pad")
	}
}

func TestErrorScreenHasQRAndCode(t *testing.T) {
	fonts := testFonts(t)
	sc := flow.Screen{ID: flow.ErrorScreen, Title: "Something went wrong", Body: []string{"Try again."},
		Error: &flow.ErrorInfo{Code: errcat.ERR2009, KioskID: "kiosk-7", TroubleshootingURL: "https://help.example/k"}}
	p := Layout(sc, 800, 480, fonts, "")
	var qr, code bool
	for _, it := range p.Items {
		if it.Kind == ItemQR && it.QR == "https://help.example/k" {
			qr = true
		}
		for _, l := range it.Lines {
			if l == "Error code: ERR2009 · Kiosk: kiosk-7" {
				code = true
			}
		}
	}
	if !qr || !code {
		t.Errorf("error screen: QR %v, code and kiosk id %v", qr, code)
	}
}

func TestHitAndFocusables(t *testing.T) {
	fonts := testFonts(t)
	sc := flow.Screen{ID: flow.ChoosePasscode, Title: "Choose", Focus: flow.FieldNew,
		Fields:  []flow.Field{{ID: flow.FieldNew, Kind: flow.KindPasscode}, {ID: flow.FieldConfirm, Kind: flow.KindPasscode}},
		Buttons: []flow.Button{{ID: flow.ButtonConfirm, Label: "Confirm", Primary: true}, {ID: flow.ButtonCancel, Label: "Cancel", Enabled: true}}}
	p := Layout(sc, 800, 480, fonts, "")
	got := p.Focusables()
	want := []string{"field:new-passcode", "field:confirm-passcode", "button:cancel", "button:language", "button:text-size"}
	if len(got) != len(want) {
		t.Fatalf("focusables %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("focusable %d = %s, want %s", i, got[i], want[i])
		}
	}
	it, _ := p.Find(Target{Kind: TargetKey, Key: Key{Label: "7", Text: "7"}})
	if tg, ok := p.Hit(it.Rect.Center()); !ok || tg.Key.Text != "7" {
		t.Errorf("hit on key 7 gave %v %v", tg, ok)
	}
	confirm, _ := p.Find(Target{Kind: TargetButton, Button: flow.ButtonConfirm})
	if _, ok := p.Hit(confirm.Rect.Center()); ok {
		t.Error("a disabled button was hit")
	}
}

func TestPaletteContrast(t *testing.T) {
	for name, c := range map[string][2]any{
		"text on white":        {NHSText, NHSWhite},
		"white on blue header": {NHSWhite, NHSBlue},
		"white on green":       {NHSWhite, NHSGreen},
		"white on secondary":   {NHSWhite, NHSSecondary},
		"red error on white":   {NHSRed, NHSWhite},
		"text on grey panel":   {NHSText, NHSGrey5},
		"disabled text":        {NHSDarkGrey, NHSGrey4},
	} {
		if r := ContrastRatio(c[0].(color.RGBA), c[1].(color.RGBA)); r < 4.5 {
			t.Errorf("%s: contrast %.2f under WCAG AA 4.5", name, r)
		}
	}
	// Focus ring: yellow against the white page is low, so a dark inner ring (text colour) is drawn too;
	// the dark ring must stand out from white and from yellow (WCAG 1.4.11 non-text contrast 3:1).
	if ContrastRatio(NHSText, NHSYellow) < 3 || ContrastRatio(NHSText, NHSWhite) < 3 {
		t.Error("focus ring contrast under 3:1")
	}
}
