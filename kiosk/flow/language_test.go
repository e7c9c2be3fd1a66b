package flow

import (
	"strings"
	"testing"

	"ssu-kiosk/kiosk/flow/texts"
)

// screenTexts is every word a screen shows.
func screenTexts(sc Screen) []string {
	out := append([]string{sc.Title}, sc.Body...)
	for _, f := range sc.Fields {
		out = append(out, f.Label, f.Error)
	}
	for _, b := range sc.Buttons {
		out = append(out, b.Label)
	}
	return out
}

// Every step of a walk-through, chosen in Welsh on the first screen, is shown in Welsh, and every text it
// asked the catalogue for is there in Welsh.
func TestEveryStepInWelsh(t *testing.T) {
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			d := newDriver(t, testConfig())
			d.send(LanguageChosen{At: d.now, Lang: texts.Welsh})
			st.reach(d)
			if st.state == FaceVerification { // its helper makes a new Machine
				d.send(LanguageChosen{At: d.now, Lang: texts.Welsh})
			}
			sc := d.m.Screen()
			if sc.Lang != texts.Welsh {
				t.Fatalf("screen language %q", sc.Lang)
			}
			cy := strings.Join(screenTexts(sc), "\n")
			d.send(LanguageChosen{At: d.now, Lang: texts.English})
			en := strings.Join(screenTexts(d.m.Screen()), "\n")
			if cy == en {
				t.Errorf("the Welsh screen reads like the English one:\n%s", en)
			}
			if miss := d.m.MissingTexts(); len(miss) > 0 {
				t.Errorf("texts missing from the catalogue: %q", miss)
			}
		})
	}
}

// The language can be switched on any screen without losing what was typed, and the choice ends with
// the session.
func TestSwitchLanguageKeepsProgress(t *testing.T) {
	d := newDriver(t, testConfig())
	toEnterCode(d)
	d.typ("482")
	d.send(LanguageChosen{At: d.now, Lang: texts.Welsh})
	d.want(EnterCode)
	sc := d.m.Screen()
	if f, _ := sc.Field(FieldCode); f.Length != 3 {
		t.Fatalf("code field holds %d digits after switching, want 3", f.Length)
	}
	if sc.Title != "Rhowch y cod diogelwch" {
		t.Fatalf("title %q, want the Welsh one", sc.Title)
	}
	d.typ("913")
	d.send(Submitted{At: d.now})
	d.want(VerifyingCode)
	d.send(LanguageChosen{At: d.now, Lang: "xx"}) // not a language: nothing changes
	if d.m.Language() != texts.Welsh {
		t.Fatalf("language %q after an unknown one was asked for", d.m.Language())
	}
	d.press(ButtonCancel)
	d.remove()
	d.removeAndWaitIfClosing()
	d.want(Welcome)
	if d.m.Language() != texts.English || d.m.Screen().Title != textInsertCard {
		t.Fatalf("after the session: language %q, title %q; want English", d.m.Language(), d.m.Screen().Title)
	}
}

// Error screens follow the language, and so does the help link in their QR code.
func TestErrorScreenInWelsh(t *testing.T) {
	d := newDriver(t, testConfig())
	d.send(LanguageChosen{At: d.now, Lang: texts.Welsh})
	toReadingCard(d)
	d.remove()
	sc := d.m.Screen()
	if sc.Error == nil || !strings.HasSuffix(sc.Error.TroubleshootingURL, "?lang=cy") {
		t.Fatalf("error info %+v: want the help link with lang=cy", sc.Error)
	}
	if sc.Title != "Cafodd eich cerdyn clyfar ei dynnu allan" {
		t.Fatalf("title %q", sc.Title)
	}
	if miss := d.m.MissingTexts(); len(miss) > 0 {
		t.Errorf("texts missing from the catalogue: %q", miss)
	}
}

func (d *driver) removeAndWaitIfClosing() {
	d.t.Helper()
	if d.m.State() != Welcome {
		d.advance(d.m.cfg.NoticeTime)
	}
}

// The code is asked for in the language the screens are in at that moment, so the identity service writes
// the email or text message in it: English by default, Welsh once chosen (on any screen before).
func TestSendCodeCarriesTheLanguage(t *testing.T) {
	d := newDriver(t, testConfig())
	toSendingCode(d)
	if got := latest[SendCode](d).Lang; got != texts.English {
		t.Fatalf("code asked for in %q, want English", got)
	}
	d = newDriver(t, testConfig())
	toEnterAddress(d)
	d.send(LanguageChosen{At: d.now, Lang: texts.Welsh})
	d.typ(testEmail)
	d.press(ButtonContinue)
	d.want(SendingCode)
	if got := latest[SendCode](d).Lang; got != texts.Welsh {
		t.Fatalf("code asked for in %q, want Welsh", got)
	}
}

// The reasons the reference identity service gives for a method being unavailable are shown in the
// person's language.
func TestServiceMethodNotesInWelsh(t *testing.T) {
	d := newDriver(t, testConfig())
	d.send(LanguageChosen{At: d.now, Lang: texts.Welsh})
	toChooseMethodWith(d, []MethodOffer{
		{Method: MethodEmail, Available: false, Note: "Email delivery is not configured."},
		{Method: MethodSMS, Available: false, Note: "Text messages are not available for your profile."},
		{Method: MethodFace, Available: false, Note: "Face verification is currently unavailable."},
	})
	body := strings.Join(d.m.Screen().Body, "\n")
	for _, want := range []string{"Nid yw anfon e-bost", "Nid yw negeseuon testun", "Nid yw dilysu wyneb"} {
		if !strings.Contains(body, want) {
			t.Errorf("the service's notes are not in Welsh:\n%s", body)
		}
	}
	if miss := d.m.MissingTexts(); len(miss) > 0 {
		t.Errorf("texts missing from the catalogue: %q", miss)
	}
}
