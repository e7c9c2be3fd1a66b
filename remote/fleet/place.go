package fleet

import (
	"errors"
	"strings"
)

// PlaceToken turns a site or ward name into the token the fleet uses for it: lower case a-z and 0-9
// joined by single dashes, apostrophes dropped, at most 64 characters ("St Example's Hospital" gives
// "st-examples-hospital"). The fleet server files a kiosk under the tokens of its enrolment's place;
// RA accounts name their sites by the same tokens. It fails when nothing is left, or when the token
// would hold six digits in a row (fleet messages refuse those).
func PlaceToken(name string) (string, error) {
	out := Slug(name)
	if out == "" {
		return "", errors.New("place: needs at least one letter or digit")
	}
	if err := checkTokens("place", map[string]string{"name": out}); err != nil {
		return "", err
	}
	return out, nil
}

// Slug turns a place name into a fleet token as it is, with no checks: "St Example's Hospital" gives
// "st-examples-hospital", and a name with no letter or digit gives "". PlaceToken also checks the result.
func Slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		case r == '\'' || r == '’':
		default:
			dash = true
		}
	}
	out := b.String()
	if len(out) > 64 {
		out = strings.TrimRight(out[:64], "-")
	}
	return out
}
