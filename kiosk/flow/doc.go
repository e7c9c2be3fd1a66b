// Package flow is the kiosk's walk-through as a plain, deterministic state machine: card and service
// answers, key presses and clock ticks go in as events; a screen model and a list of effects for a runner
// to carry out come out.
//
// A Machine is driven from one goroutine (the UI loop). Handle never blocks, starts no goroutine, reads no
// clock and does no I/O: time arrives in every event, so idle timeouts, countdowns and a security code's
// time left are computed, never slept. Every effect that reaches the card or the identity service carries
// a sequence number; an answer whose number is not the one awaited (card removed, cancelled, timed out) is
// ignored, and any secret it carries is wiped.
//
// The package must never import the card layer, the identity client, the LED driver or Ebiten: it owns
// its small types and adapters translate. It must never put a passcode, PUK/SOPIN, security code, email
// address or phone number into a screen model's text, a usage record, an error string or a String/Format
// result: secrets live in fixed buffers that are wiped when a session ends, however it ends, and screen
// models only expose a masked field's length.
package flow
