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
