// Package identity is the contract between a kiosk and the identity service, and the kiosk's client for it.
//
// The identity service, not the kiosk, decides who may unlock a card, and it alone stores each card's SOPIN
// (the PIV PUK). The contract, versioned under /v1 and written out in openapi.yaml beside this file, has
// five steps, each a method of Client:
//
//  1. Challenge (POST /v1/challenges): the service hands out a single-use 32-byte nonce that lives a minute.
//  2. StartSession (POST /v1/sessions): the kiosk sends the card's identity (CHUID GUID serial, holder UUID,
//     PIV Authentication certificate) and proof that the card is genuine (the Card Authentication
//     certificate and the card's ECDSA signature over the nonce). The answer is a session id, an expiry
//     15 minutes from now, and either the methods on offer or the reason the person is not eligible.
//  3. SendCode (POST /v1/sessions/{id}/code): the method and the address the person typed. The answer is
//     the same whether or not the address is the one on the profile; a 6-digit code goes out only when it
//     is. At most 3 sends per session, with a wait between them.
//  4. VerifyCode (POST /v1/sessions/{id}/verification): 5 wrong codes end the session; a code is good only
//     inside the session's 15 minutes. On success the card's SOPIN is released, once, to that kiosk session.
//     Wrong codes also add up across sessions, per card and per holder: past the service's limit (10 in
//     24 hours by default) the card and its holder are refused with ERR1016 until an RA clears it.
//  5. Complete (POST /v1/sessions/{id}/completion): the kiosk reports the outcome, which is audited.
//
// Kiosks authenticate with mutual TLS; the kiosk id is the CN of their device certificate, which the fleet CA
// issues and may revoke. Every call
// carries a request id (header X-Request-ID) that both sides log. Errors are JSON bodies with a stable code
// from package errcat.
//
// This package never logs, prints or formats a security code, SOPIN, email address or phone number: those
// travel as Secret, whose String and LogValue are redacted. Only Challenge and Complete are retried, since
// they are the only idempotent steps.
package identity
