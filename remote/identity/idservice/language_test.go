package idservice_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/errcat"
)

// TestCodeMessageFollowsLanguage: the email (outbox) and text message (SMS courier) carrying the code are
// written in the language the send-code request names, English when it names none; the code is in both.
func TestCodeMessageFollowsLanguage(t *testing.T) {
	for _, tc := range []struct {
		lang                    identity.Language
		subject, opening, other string
	}{
		{"", "Subject: Your smartcard unlock security code\n", "Your security code is ", "Eich cod"},
		{identity.LanguageEnglish, "Subject: Your smartcard unlock security code\n", "Your security code is ", "Eich cod"},
		{identity.LanguageWelsh, "Subject: Eich cod diogelwch i ddatgloi eich cerdyn clyfar\n", "Eich cod diogelwch yw ", "Your security code"},
	} {
		name := string(tc.lang)
		if name == "" {
			name = "absent"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, sqliteDSN(t))
			ctx := context.Background()
			s := h.start(h.client, samSerial)
			if _, err := h.client.SendCode(ctx, s.ID, identity.SendCodeRequest{Method: identity.MethodEmail,
				Address: identity.Secret(samEmail), Language: tc.lang}); err != nil {
				t.Fatalf("send email: %v", err)
			}
			h.clock.Advance(31 * time.Second)
			if _, err := h.client.SendCode(ctx, s.ID, identity.SendCodeRequest{Method: identity.MethodSMS,
				Address: identity.Secret(samMobile), Language: tc.lang}); err != nil {
				t.Fatalf("send SMS: %v", err)
			}
			h.svc.Close() // waits for the deliveries

			mail := h.outboxMessage(s.ID, 1)
			code := h.outboxCode(s.ID, 1)
			if !bytes.Contains(mail, []byte(tc.subject)) || !bytes.Contains(mail, append([]byte(tc.opening), code...)) ||
				bytes.Contains(mail, []byte(tc.other)) {
				t.Errorf("email in %q:\n%s", tc.lang, mail)
			}
			if h.sms.count() != 1 {
				t.Fatalf("sms = %d messages", h.sms.count())
			}
			m := h.sms.msgs[0]
			if !bytes.HasPrefix(m.Body, append([]byte(tc.opening), m.Code...)) || bytes.Contains(m.Body, []byte(tc.other)) ||
				m.Language != tc.lang.OrDefault() {
				t.Errorf("text message in %q (%s): %s", tc.lang, m.Language, m.Body)
			}
		})
	}
}

// TestUnknownLanguageRefused: a language the contract does not name (or an empty one) is refused with 400
// ERR1012 before anything is counted or sent.
func TestUnknownLanguageRefused(t *testing.T) {
	h := newHarness(t, sqliteDSN(t))
	s := h.start(h.client, samSerial)
	for _, lang := range []string{`"fr"`, `"EN"`, `"cy-GB"`, `""`, `null`} {
		status, _, body := h.rawPost(kioskID, "/v1/sessions/"+s.ID+"/code",
			`{"method":"email","address":"`+samEmail+`","language":`+lang+`}`)
		var eb identity.ErrorBody
		_ = json.Unmarshal(body, &eb)
		if status != http.StatusBadRequest || eb.Code != errcat.ERR1012 {
			t.Errorf("language %s: %d %s", lang, status, body)
		}
		if strings.Contains(string(body), samEmail) {
			t.Errorf("language %s: the answer echoes the address", lang)
		}
	}
	// Nothing was sent or counted: the kiosk still has all its sends, in Welsh.
	res, err := h.client.SendCode(context.Background(), s.ID, identity.SendCodeRequest{Method: identity.MethodEmail,
		Address: identity.Secret(samEmail), Language: identity.LanguageWelsh})
	if err != nil || res.SendsLeft != identity.MaxSends-1 {
		t.Fatalf("send after refusals: %+v %v", res, err)
	}
	if !bytes.Contains(h.outboxMessage(s.ID, 1), []byte("Eich cod diogelwch yw ")) {
		t.Error("the Welsh email did not arrive")
	}
}
