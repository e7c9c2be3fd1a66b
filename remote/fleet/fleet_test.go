package fleet

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTopics(t *testing.T) {
	if got := ResultTopic("kiosk-0001"); got != "ssu/v1/kiosks/kiosk-0001/cmd/result" {
		t.Fatalf("ResultTopic = %q", got)
	}
	for _, tc := range []struct {
		topic, kiosk, leaf string
		ok                 bool
	}{
		{"ssu/v1/kiosks/kiosk-0001/events", "kiosk-0001", LeafEvents, true},
		{"ssu/v1/kiosks/kiosk-0001/cmd/result", "kiosk-0001", LeafResult, true},
		{"ssu/v1/kiosks/kiosk-0001/other", "", "", false},
		{"ssu/v1/kiosks/Kiosk/events", "", "", false},
		{"ssu/v2/kiosks/k/events", "", "", false},
	} {
		k, l, ok := SplitTopic(tc.topic)
		if k != tc.kiosk || l != tc.leaf || ok != tc.ok {
			t.Errorf("SplitTopic(%q) = %q, %q, %v", tc.topic, k, l, ok)
		}
	}
	for _, bad := range []string{"", "-a", "a/b", "a+", "#", "A", strings.Repeat("a", 65)} {
		if ValidKioskID(bad) == nil {
			t.Errorf("ValidKioskID(%q) accepted", bad)
		}
	}
}

func validEvent() UsageEvent {
	return UsageEvent{V: 1, ID: NewEventID(), Kind: Unlocked, Kiosk: "kiosk-0001", Site: "rlh", Ward: "ward-7",
		At: time.Now(), DurationMS: 1200, AppVersion: "1.2.3", Method: "email", Step: "new_pin"}
}

func TestUsageEventValidate(t *testing.T) {
	if err := validEvent().Validate(); err != nil {
		t.Fatal(err)
	}
	key, err := CardKey("0123456789abcdef0123456789abcdef", []byte("0123456789abcdef-fleet-key"))
	if err != nil || len(key) != 64 {
		t.Fatalf("CardKey = %q, %v", key, err)
	}
	key2, _ := CardKey("0123456789abcdef0123456789abcdef", []byte("another-fleet-key-0000"))
	if key == key2 {
		t.Fatal("card key does not depend on the fleet key")
	}
	if _, err := CardKey("0123456789ABCDEF0123456789ABCDEF", []byte("0123456789abcdef")); err == nil {
		t.Fatal("uppercase serial accepted")
	}
	for name, mutate := range map[string]func(*UsageEvent){
		"version":     func(e *UsageEvent) { e.V = 2 },
		"uuid v4":     func(e *UsageEvent) { e.ID = "7d444840-9dc0-41d2-8b6c-4f6a3c1b2c3d" },
		"kind":        func(e *UsageEvent) { e.Kind = "hacked" },
		"kiosk":       func(e *UsageEvent) { e.Kiosk = "a/b" },
		"no time":     func(e *UsageEvent) { e.At = time.Time{} },
		"email":       func(e *UsageEvent) { e.Reason = "jo@nhs.net" },
		"code":        func(e *UsageEvent) { e.Step = "code_123456" },
		"phone":       func(e *UsageEvent) { e.Reason = "07700 900123" },
		"card key":    func(e *UsageEvent) { e.CardKey = "0123456789abcdef0123456789abcdef" },
		"negative":    func(e *UsageEvent) { e.StepMS = -1 },
		"long reason": func(e *UsageEvent) { e.Reason = strings.Repeat("x", 65) },
	} {
		e := validEvent()
		mutate(&e)
		if err := e.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate = %v, want ErrInvalid", name, err)
		}
	}
}

func TestParseCommand(t *testing.T) {
	ok := []string{
		`{"v":1,"id":"c1","name":"maintenance","issued_at":"2026-01-01T00:00:00Z","on":true,"message":"back at 3pm"}`,
		`{"v":1,"id":"c2","name":"reboot","issued_at":"2026-01-01T00:00:00Z"}`,
		`{"v":1,"id":"c3","name":"methods","issued_at":"2026-01-01T00:00:00Z","disable":["sms"]}`,
		`{"v":1,"id":"c4","name":"logs","issued_at":"2026-01-01T00:00:00Z","lines":50}`,
	}
	for _, s := range ok {
		if _, err := ParseCommand([]byte(s)); err != nil {
			t.Errorf("ParseCommand(%s): %v", s, err)
		}
	}
	bad := []string{
		``, `{`, `[]`, `{"v":1}`,
		`{"v":2,"id":"c","name":"reboot","issued_at":"2026-01-01T00:00:00Z"}`,
		`{"v":1,"id":"c","name":"format_disk","issued_at":"2026-01-01T00:00:00Z"}`,
		`{"v":1,"id":"c","name":"reboot","issued_at":"2026-01-01T00:00:00Z","extra":1}`,
		`{"v":1,"id":"c","name":"maintenance","issued_at":"2026-01-01T00:00:00Z"}`,
		`{"v":1,"id":"c","name":"methods","issued_at":"2026-01-01T00:00:00Z"}`,
		`{"v":1,"id":"c","name":"logs","issued_at":"2026-01-01T00:00:00Z","lines":100000}`,
		`{"v":1,"id":"c d","name":"reboot","issued_at":"2026-01-01T00:00:00Z"}`,
		`{"v":1,"id":"c","name":"reboot"}`,
		`{"v":1,"id":"c","name":"reboot","issued_at":"2026-01-01T00:00:00Z"} {}`,
	}
	for _, s := range bad {
		if _, err := ParseCommand([]byte(s)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseCommand(%s) = %v, want ErrInvalid", s, err)
		}
	}
}

func TestStatusNewer(t *testing.T) {
	on5 := Status{V: 1, Kiosk: "k", Online: true, Conn: 5}
	off4 := Status{V: 1, Kiosk: "k", Online: false, Conn: 4}
	off5 := Status{V: 1, Kiosk: "k", Online: false, Conn: 5}
	if off4.Newer(on5) {
		t.Fatal("a stale Will overwrote a newer online")
	}
	if !off5.Newer(on5) || on5.Newer(off5) {
		t.Fatal("offline of the same connection must follow its online")
	}
}

func TestPolicy(t *testing.T) {
	p := Policy{Fleet: "fleet"}
	for _, tc := range []struct {
		who, topic string
		write, ok  bool
	}{
		{"kiosk-0001", EventsTopic("kiosk-0001"), true, true},
		{"kiosk-0001", StatusTopic("kiosk-0001"), true, true},
		{"kiosk-0001", HealthTopic("kiosk-0001"), true, true},
		{"kiosk-0001", ResultTopic("kiosk-0001"), true, true},
		{"kiosk-0001", CommandTopic("kiosk-0001"), false, true},
		{"kiosk-0001", AckTopic("kiosk-0001"), false, true},
		{"kiosk-0001", CommandTopic("kiosk-0001"), true, false}, // cannot send itself commands
		{"kiosk-0001", AckTopic("kiosk-0001"), true, false},     // cannot forge acks
		{"kiosk-0001", EventsTopic("kiosk-0002"), true, false},
		{"kiosk-0001", StatusTopic("kiosk-0002"), true, false},
		{"kiosk-0001", CommandTopic("kiosk-0002"), false, false},
		{"kiosk-0001", CommandTopic("kiosk-0002"), true, false},
		{"kiosk-0001", All(LeafCmd), false, false},
		{"kiosk-0001", "#", false, false},
		{"kiosk-0001", EventsTopic("kiosk-0001"), false, false},
		{"Bad/Id", EventsTopic("Bad/Id"), true, false},
		{"fleet", CommandTopic("kiosk-0002"), true, true},
		{"fleet", All(LeafEvents), false, true},
		{"fleet", "ssu/v1/#", false, true},
		{"fleet", "#", false, false},
		{"fleet", "$SYS/broker/load", false, false},
		{"", EventsTopic(""), true, false},
	} {
		if got := p.Allowed(tc.who, tc.topic, tc.write); got != tc.ok {
			t.Errorf("Allowed(%q, %q, write=%v) = %v, want %v", tc.who, tc.topic, tc.write, got, tc.ok)
		}
	}
	acl, err := MosquittoACL("fleet")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"user fleet\ntopic readwrite ssu/v1/#\n", "pattern write ssu/v1/kiosks/%u/events\n", "pattern read ssu/v1/kiosks/%u/cmd\n"} {
		if !strings.Contains(acl, want) {
			t.Errorf("ACL lacks %q:\n%s", want, acl)
		}
	}
	if _, err := MosquittoACL("a b"); err == nil {
		t.Fatal("bad fleet identity accepted")
	}
}

func TestScrub(t *testing.T) {
	for in, want := range map[string]string{
		"sent code to jo.bloggs@nhs.net ok":              "sent code to [email] ok",
		"mobile 07700 900123 used":                       "mobile [phone] used",
		"mobile +44 7700 900123 used":                    "mobile [phone] used",
		"landline (020) 7946 0958":                       "landline [phone]",
		"mobile 07700900123":                             "mobile [phone]",
		"pin=123456 puk=12345678 code 4711233":           "pin=[digits] puk=[digits] code [digits]",
		"PIN123456.":                                     "PIN[digits].",
		"2026-11-22T09:56:48Z level=INFO msg=started":    "2026-11-22T09:56:48Z level=INFO msg=started",
		"error ERR1009 PR20002 after 1200ms":             "error ERR1009 PR20002 after 1200ms",
		"2026-11-22 09:56:48.123 unlocked kiosk-0001":    "2026-11-22 09:56:48.123 unlocked kiosk-0001",
		"reader \"Virtual PCD 00 00\" port 35963 ok":     "reader \"Virtual PCD 00 00\" port 35963 ok",
		"a@b.co and 01632 960961 and 0000000 and 999999": "[email] and [phone] and [digits] and [digits]",
	} {
		if got := Scrub(in); got != want {
			t.Errorf("Scrub(%q)\n = %q\nwant %q", in, got, want)
		}
	}
	got := ScrubLines([]string{"a\nb\x1b[2J 123456"})
	if got[0] != "a b [2J [digits]" {
		t.Errorf("ScrubLines = %q", got)
	}
}

// TestAppVersionCommit: the build's version (image/version.sh) may name a commit whose abbreviation holds
// six digits in a row; it is still a valid app version in every message, while six digits anywhere else,
// in the version or another field, are still refused.
func TestAppVersionCommit(t *testing.T) {
	for _, v := range []string{"0.0.49-g1234567", "1.2.3-4-g1234567-dirty", "1.2.3-4-g0123456789abcdef0123456789abcdef01234567", "1.2.3"} {
		e := validEvent()
		e.AppVersion = v
		h := Health{V: 1, Kiosk: "kiosk-0001", AppVersion: v}
		s := Status{V: 1, Kiosk: "kiosk-0001", Online: true, AppVersion: v}
		if err := errors.Join(e.Validate(), h.Validate(), s.Validate()); err != nil {
			t.Errorf("app version %q refused: %v", v, err)
		}
	}
	for _, v := range []string{"0.0.49-1234567", "g1234567", "0.0.123456-gabcdef0", "1.2.3-g123456", "1.2.3-gABC1234567"} {
		e := validEvent()
		e.AppVersion = v
		h := Health{V: 1, Kiosk: "kiosk-0001", AppVersion: v}
		s := Status{V: 1, Kiosk: "kiosk-0001", Online: true, AppVersion: v}
		for what, err := range map[string]error{"event": e.Validate(), "health": h.Validate(), "status": s.Validate()} {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s with app version %q: Validate = %v, want ErrInvalid", what, v, err)
			}
		}
	}
	e := validEvent()
	e.Reason = "x-g1234567"
	if !errors.Is(e.Validate(), ErrInvalid) {
		t.Error("a commit-like part is masked outside app_version")
	}
}

func TestPlaceToken(t *testing.T) {
	for in, want := range map[string]string{
		"St Example's Hospital": "st-examples-hospital",
		"st-james":              "st-james",
		"  Ward 3 (Day Unit) ":  "ward-3-day-unit",
	} {
		if got, err := PlaceToken(in); got != want || err != nil {
			t.Errorf("PlaceToken(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", " -- ", "room 123456"} {
		if got, err := PlaceToken(bad); err == nil {
			t.Errorf("PlaceToken(%q) = %q, want an error", bad, got)
		}
	}
}

// TestHealthFallback: the fallback fields of a health report take versions (a commit abbreviation
// included) and refuse free text, as app_version does.
func TestHealthFallback(t *testing.T) {
	h := Health{V: 1, Kiosk: "kiosk-0001", AppVersion: "1.2.3", FallbackFailedVersion: "1.3.0-2-g1234567",
		FallbackRunningVersion: "1.2.3"}
	if err := h.Validate(); err != nil {
		t.Fatalf("a fallback refused: %v", err)
	}
	for name, bad := range map[string]func(*Health){
		"failed space":     func(h *Health) { h.FallbackFailedVersion = "1.3.0 broken" },
		"failed digits":    func(h *Health) { h.FallbackFailedVersion = "1.3.123456" },
		"running email":    func(h *Health) { h.FallbackRunningVersion = "a@b.example" },
		"running too long": func(h *Health) { h.FallbackRunningVersion = strings.Repeat("1", 3) + strings.Repeat(".a", 40) },
	} {
		h := h
		bad(&h)
		if v := h.FallbackFailedVersion + h.FallbackRunningVersion; !errors.Is(ValidVersion(v), ErrInvalid) {
			t.Errorf("%s: ValidVersion(%q) accepts it", name, v)
		}
		if err := h.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate = %v, want ErrInvalid", name, err)
		}
	}
}
