package app

import (
	"testing"
	"time"

	"ssu-kiosk/hal/card"
	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/kiosk/flow/texts"
	"ssu-kiosk/remote/identity"
)

// TestRunnerSendsTheSessionsLanguage: the send-code request carries the language the screens are shown in
// when the code is asked for, so the identity service writes the email or text message in it: Welsh when
// the person chose Cymraeg (even after the session started); English, by default or chosen, is left out
// (the contract's default), so services that predate the field keep working.
func TestRunnerSendsTheSessionsLanguage(t *testing.T) {
	for _, tc := range []struct {
		chosen texts.Lang // "" chooses nothing
		want   identity.Language
	}{
		{"", ""},
		{texts.Welsh, identity.LanguageWelsh},
		{texts.English, ""},
	} {
		t.Run("chosen="+string(tc.chosen), func(t *testing.T) {
			g := newRig(t)
			g.card.status = flow.CardStatus{PINBlocked: true, CertificatesNotAfter: time.Now().AddDate(1, 0, 0), Fingerprint: "c0ffee"}
			g.r.cardEvent(card.Event{Kind: card.CardInserted, Reader: "Reader 0", State: card.StateCardPresent, Time: time.Now()})
			g.until(flow.StartNow)
			g.do(flow.Pressed{At: time.Now(), Button: flow.ButtonStart})
			g.until(flow.ChooseMethod)
			if tc.chosen != "" {
				g.do(flow.LanguageChosen{At: time.Now(), Lang: tc.chosen})
			}
			if got := g.m.Language(); tc.chosen != "" && got != tc.chosen {
				t.Fatalf("flow's language %q after choosing %q", got, tc.chosen)
			}
			g.do(flow.Pressed{At: time.Now(), Button: flow.ButtonEmail})
			g.typ("sam.example@nhs.net")
			g.do(flow.Submitted{At: time.Now()})
			g.until(flow.EnterCode)
			g.svc.mu.Lock()
			defer g.svc.mu.Unlock()
			if len(g.svc.languages) != 1 || g.svc.languages[0] != tc.want || g.svc.languages[0].OrDefault() != identity.Language(g.m.Language()) {
				t.Fatalf("send-code requests in %q, want [%q] (the flow's %s)", g.svc.languages, tc.want, g.m.Language())
			}
		})
	}
}
