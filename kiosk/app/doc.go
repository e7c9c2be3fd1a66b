// Package app runs the kiosk: it connects the walk-through (package flow) and its screens (package ui) to
// the card reader (hal/card), the identity service (remote/identity), the status LEDs (hal/led), systemd
// and the fleet's usage recorder.
//
// The Runner carries out flow's effects in goroutines, each with a context that a timeout or a
// CancelOperation ends, and reports back over one channel that the UI loop drains without blocking; it
// wakes the UI (ebiten.ScheduleFrame) after each report. Card events and a one-second clock reach the
// walk-through the same way. Everything outside is behind small interfaces owned here (Card, Identity,
// Lights), with the real adapters (PCSCCard, *identity.Client, *led.Panel) and fakes in tests.
//
// Demo runs the whole stack with no hardware: pcscd with vpcd, ssu-vcard with the demo cards,
// ssu-idservice in demo mode.
//
// This package must never log, print or put in an error a passcode, SOPIN, security code, email address or
// phone number: secrets from effects are copied into the card or service call and wiped once it returns.
package app
