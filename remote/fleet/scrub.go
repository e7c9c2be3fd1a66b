package fleet

import (
	"regexp"
	"strings"
)

var (
	// emailRe: anything@host, with or without a dot in the host ("name@host" is an address too). The local
	// part is a run of any characters but those that end an address, a path or a key (so o'neil and josé
	// go whole, and key=, a/b/ stay) or a quoted string; the host a name or an IP literal ([192.0.2.1]).
	emailRe = regexp.MustCompile(`(?:"[^"]*"|[^\s@<>()\[\],;:"/=]+)@(?:\[[^\]\s]*\]|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)`)
	// phoneRe finds what may be a phone number: it starts with "+" and a digit (+44 …), a bracket and a
	// digit ((020) …, (0)7700 …) or a 0 and a digit at the start of a word (07700 …), and runs on over
	// digits, spaces, brackets, dots and dashes to a digit. Scrub counts its digits before replacing it.
	phoneRe = regexp.MustCompile(`(?:\+[0-9]|\([0-9]|\b0[0-9])[0-9 \x{a0}\x{202f}().-]*[0-9]`)
	// spacedRe: digits in groups split by spaces or tabs, also no-break ones ("123 456", "1234 5678",
	// "12 34 56", "123\t456").
	spacedRe = regexp.MustCompile(`\b[0-9]+(?:[ \t\x{a0}\x{202f}]+[0-9]+)+\b`)
	// dashedRe: digits in groups of two or more split by dashes, underscores or slashes ("123-456",
	// "12-34-56", "123_456", "123/456"); dates (2026-11-22, 2026/11/22, 2026-11) are not (dateRe).
	dashedRe = regexp.MustCompile(`\b[0-9]{2,}(?:[-_/][0-9]{2,})+\b`)
	dateRe   = regexp.MustCompile(`^(?:19|20)[0-9]{2}(?:[-/][0-9]{2}){1,2}$`)
	digitRe  = regexp.MustCompile(`[0-9]{6,}`)
)

// minPhoneDigits is the fewest digits a phone number has (UK numbers have 10 or 11 after the 0).
const minPhoneDigits = 9

// Scrub removes from a log line what must never leave a kiosk: email addresses (name@host.example and
// name@host) become "[email]", phone numbers in UK and international forms (+44 (0)7700 900123,
// 07700 900123, (020) 7946 0958) "[phone]", and every number of six or more digits, whole or split into
// groups by spaces or dashes (PINs, PUKs, security codes, which are 6-8 digits: 123456, 123 456, 1234-5678),
// "[digits]". It prefers removing too much to too little, but keeps timestamps (2026-11-22T09:56:48Z,
// 2026-11-22 09:56:48.123) readable.
func Scrub(line string) string {
	line = emailRe.ReplaceAllString(line, "[email]")
	line = phoneRe.ReplaceAllStringFunc(line, func(m string) string {
		if countDigits(m) < minPhoneDigits { // too short for a phone number: leave it to the digit rules
			return m
		}
		return "[phone]"
	})
	for _, re := range []*regexp.Regexp{spacedRe, dashedRe} {
		line = re.ReplaceAllStringFunc(line, func(m string) string {
			if countDigits(m) < 6 || dateRe.MatchString(m) {
				return m
			}
			return "[digits]"
		})
	}
	return digitRe.ReplaceAllString(line, "[digits]")
}

func countDigits(s string) int {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n
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
