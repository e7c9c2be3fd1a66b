package idservice

import "ssu-kiosk/remote/identity"

// codeWording is the fixed text of a code message in one language: the email subject, and the body's
// words before and after the code. It never holds a code or an address itself: codeMessage puts the code
// between Before and After in a byte slice that is cleared after sending.
type codeWording struct {
	Subject, Before, After string
}

// The English code message (see wordingFor).
const (
	englishSubject = "Your smartcard unlock security code"
	englishBefore  = "Your security code is "
	englishAfter   = ".\n\nEnter it at the kiosk within 15 minutes of inserting your smartcard.\n" +
		"If you did not ask for this code, tell your Registration Authority (RA)."
)

// wordingFor is the code message's wording in the person's language (the contract's SendCodeRequest
// language): Welsh (welsh_draft.go) for cy, English otherwise, including when the kiosk sent none.
func wordingFor(l identity.Language) codeWording {
	if l == identity.LanguageWelsh {
		return codeWording{Subject: welshSubject, Before: welshBefore, After: welshAfter}
	}
	return codeWording{Subject: englishSubject, Before: englishBefore, After: englishAfter}
}

// codeMessage is the text of a code message in wording w, built in a byte slice (never a Go string, which
// cannot be wiped) that deliver clears after sending.
func codeMessage(w codeWording, code identity.Secret) []byte {
	b := make([]byte, 0, len(w.Before)+len(code)+len(w.After))
	b = append(b, w.Before...)
	b = append(b, code...)
	return append(b, w.After...)
}
