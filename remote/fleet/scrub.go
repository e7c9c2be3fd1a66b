package fleet

import (
	"regexp"
	"strings"
)

var (
	emailRe = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+`)
	// phoneRe: an optional +country code, then 2-5 digits (optionally in brackets) and two groups of
	// 3-4 digits, separated by at most one space, dot or dash: UK and international forms.
	phoneRe = regexp.MustCompile(`(?:\+\d{1,3}[ .-]?)?(?:\(0?\d{1,4}\)|\d{2,5})[ .-]?\d{3,4}[ .-]?\d{3,4}`)
	digitRe = regexp.MustCompile(`[0-9]{6,}`)
)

// Scrub removes from a log line what must never leave a kiosk: email addresses become "[email]",
// phone numbers "[phone]", and every run of six or more digits (PINs, PUKs, security codes, which
// are 6-8 digits) "[digits]". It prefers removing too much to too little.
func Scrub(line string) string {
	line = emailRe.ReplaceAllString(line, "[email]")
	line = phoneRe.ReplaceAllStringFunc(line, func(m string) string {
		n := 0
		for _, r := range m {
			if r >= '0' && r <= '9' {
				n++
			}
		}
		if n < 9 { // too short for a phone number: leave it to the digit rule
			return m
		}
		return "[phone]"
	})
	return digitRe.ReplaceAllString(line, "[digits]")
}

// ScrubLines scrubs each line and drops control characters, so a line cannot fake another.
func ScrubLines(lines []string) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		l = strings.Map(func(r rune) rune {
			if r < 0x20 && r != '\t' || r == 0x7f {
				return ' '
			}
			return r
		}, l)
		out = append(out, Scrub(l))
	}
	return out
}
