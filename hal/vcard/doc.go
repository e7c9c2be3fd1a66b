// Package vcard is a virtual PIV smartcard (NIST SP 800-73-4) for tests and demonstrations: it answers
// command APDUs the way a real PIV card does, keeps its PIN, PUK and retry counters in a state file, and
// plugs into pcscd through vsmartcard's vpcd driver, so OpenSC, yubico-piv-tool and the kiosk's own
// card code drive it exactly as they drive a card in a USB reader.
//
// The pieces:
//   - State is a card at rest: keys, certificates, CHUID, PIN, PUK and counters, saved as JSON (mode 0600).
//   - Create makes a new card whose certificates a test CA (LoadCA) signs and name the card (the CHUID
//     GUID as a urn:uuid subject alternative name, as real PIV issuers do); its Card Authentication key
//     is ECC P-256, ECC P-384 or RSA 2048 (CreateOptions.CardAuthAlgorithm), and its certificates may be
//     stored gzip-compressed (CreateOptions.CompressCertificates, CertInfo 01).
//   - Card is a live card over a State: Process takes one command APDU and gives the response.
//   - Insert serves a Card to vpcd over TCP until its context ends; Faults makes it misbehave on purpose.
//
// It is for tests only: the state file holds the PIN and PUK in the clear. It logs only to the logger
// given to Card.SetLogger, and then only command headers, status words and vpcd events; no log line,
// error or printed State ever holds a PIN, a PUK, a private key or the data of a command.
package vcard
