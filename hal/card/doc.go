// Package card is the kiosk's smartcard layer: PIV (NIST SP 800-73-4) over PC/SC through pcscd, via
// github.com/ebfe/scard. NHS smartcards are PIV cards, and the SOPIN that unlocks them is the PIV PUK.
//
// Three layers, bottom up:
//   - APDUs: Command, Transport, command chaining and GET RESPONSE, status words mapped to errors
//     (ErrNotFound, ErrSecurityStatus, ErrBlocked, *AuthError with the tries left, ErrCardRemoved, ...).
//   - PIV: the application's verbs on a Transport: Select, ReadIdentity, PINStatus, VerifyPIN, ChangePIN,
//     Unblock (RESET RETRY COUNTER with the PUK), ChangePUK, Authenticate (the Card Authentication key,
//     ECC P-256, ECC P-384 or RSA 2048; CardAuthChallenge says what each is given to sign). Certificates
//     stored gzip-compressed (CertInfo 01) are inflated. A card that answers but holds what cannot be used
//     here (a certificate that does not parse, a key of another algorithm, a refused command) gives
//     ErrCardUnusable, which callers show as "not a card this kiosk can unlock", not "insert it again".
//   - PC/SC: Connect (exclusive, inside a transaction), WithPIV, FindReader, and Watch, which reports
//     readers and cards coming and going and survives pcscd restarts.
//
// Fakes and APDU transcripts for tests are in the sibling package cardtest; a private pcscd with virtual
// readers for integration tests is in pcsctest.
//
// This package never logs, prints or returns a PIN or PUK: they travel as Secret, whose String hides the
// value, the padded copies made for a command are zeroed once sent, and errors say only what went wrong.
// Errors quote no value read from a certificate either (crypto/x509's quoted values are cut out), so they
// may be logged without naming the card or its holder.
package card
