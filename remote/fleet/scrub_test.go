package fleet

import "testing"

// TestScrubFindsWhatItMissed: the forms the first scrubber let through (issue 11), and lines that must stay
// as they are.
func TestScrubFindsWhatItMissed(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// International with the trunk 0 in brackets.
		{"mobile +44 (0)7700 900123 used", "mobile [phone] used"},
		{"mobile +44(0)7700900123", "mobile [phone]"},
		{"call +44 (0) 20 7946 0958.", "call [phone]."},
		{"+1 (555) 010-0199 abroad", "[phone] abroad"},
		// Spaced and split numbers.
		{"mobile 07700 900 123 used", "mobile [phone] used"},
		{"code 123 456 sent", "code [digits] sent"},
		{"pin 12 34 56 typed", "pin [digits] typed"},
		{"puk 1234 5678", "puk [digits]"},
		{"code 123-456", "code [digits]"},
		{"code 123\u00a0456 and 07700\u202f900123", "code [digits] and [phone]"},
		{"puk 1234-5678 and 0770-090-0123", "puk [digits] and [phone]"},
		// Addresses without a dot in the host.
		{"to name@host failed", "to [email] failed"},
		{"to jo.bloggs@localhost", "to [email]"},
		{"x <sam+tag@nhs.net>", "x <[email]>"},
		// Left alone.
		{"2026-11-22T09:56:48Z level=INFO msg=started", "2026-11-22T09:56:48Z level=INFO msg=started"},
		{"2026-11-22 09:56:48.123 unlocked kiosk-0001", "2026-11-22 09:56:48.123 unlocked kiosk-0001"},
		{"reader \"Virtual PCD 00 00\" port 35963 ok", "reader \"Virtual PCD 00 00\" port 35963 ok"},
		{"retry 3 of 5 after 200 ms", "retry 3 of 5 after 200 ms"},
		{"listening on 127.0.0.1:8443", "listening on 127.0.0.1:8443"},
		{"error ERR1009 (0x6983) PR20002", "error ERR1009 (0x6983) PR20002"},
	} {
		if got := Scrub(tc.in); got != tc.want {
			t.Errorf("Scrub(%q)\n = %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestScrubOtherSeparatorsAndAddresses: the review of issue #11 tried forms the scrubber let through: an
// address whose local part holds an apostrophe (O'Neil), a letter outside ASCII or quotes, or whose host is
// an IP literal; a code split by a tab, by two spaces, into pairs by dashes, or by underscores or slashes.
func TestScrubOtherSeparatorsAndAddresses(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"to sam.o'neil@nhs.net ok", "to [email] ok"},
		{"to josé.garcía@nhs.net ok", "to [email] ok"},
		{`to "sam example"@nhs.net ok`, "to [email] ok"},
		{"to sam@[192.0.2.1] ok", "to [email] ok"},
		{"code\t123\t456", "code\t[digits]"},
		{"code 123  456 typed", "code [digits] typed"},
		{"code 12-34-56 typed", "code [digits] typed"},
		{"code 123_456 typed", "code [digits] typed"},
		{"code 123/456 typed", "code [digits] typed"},
		// Still left alone: dates in either form, a year and month, a kiosk id, a short pair.
		{"on 2026-11-22 and 2026/11/22, month 2026-11", "on 2026-11-22 and 2026/11/22, month 2026-11"},
		{"took 12-34 ms on kiosk-0001", "took 12-34 ms on kiosk-0001"},
	} {
		if got := Scrub(tc.in); got != tc.want {
			t.Errorf("Scrub(%q)\n = %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestScrubKeepsPathsAndKeys: an address after a key or in a path goes, the key and the path stay.
func TestScrubKeepsPathsAndKeys(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"msg=sent to=sam@nhs.net", "msg=sent to=[email]"},
		{"at /go/pkg/mod/github.com/eclipse/paho.mqtt.golang@v1.5.1/client.go:12", "at /go/pkg/mod/github.com/eclipse/[email]/client.go:12"},
	} {
		if got := Scrub(tc.in); got != tc.want {
			t.Errorf("Scrub(%q)\n = %q\nwant %q", tc.in, got, tc.want)
		}
	}
}
