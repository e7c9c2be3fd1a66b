// Package app runs the kiosk: it connects the walk-through (package flow) and its screens (package ui) to
// the card reader (hal/card), the identity service (remote/identity), the status LEDs (hal/led), systemd
// and the fleet link (remote/fleet/link).
//
// The Runner carries out flow's effects in goroutines, each with a context that a timeout or a
// CancelOperation ends, and reports back over one channel that the UI loop drains without blocking; it
// wakes the UI (ebiten.ScheduleFrame) after each report. Card events and a one-second clock reach the
// walk-through the same way. Everything outside is behind small interfaces owned here (Card, Identity,
// Lights, UsageSink), with the real adapters (PCSCCard, *identity.Client, *led.Panel, FleetSink) and
// fakes in tests.
//
// The fleet link: each finished session's usage record goes, with the serial of the session's card, to a
// UsageSink. FleetSink turns it into fleet usage events (UsageEvents) whose card is known only by a keyed
// hash of its serial, and writes each to the agent's durable outbox before it returns; records are
// written in order on the runner's goroutines, never on the UI loop, and Runner.Wait waits for them.
// FleetControl answers the agent's health polls from the runner's view (reader, pcscd, LEDs, identity
// service reachability, maintenance, configuration version) and carries out remote commands by posting
// walk-through events (MaintenanceChanged, RebootRequested, MethodsChanged), re-reading the
// configuration, blinking the LEDs and reading the LogRing of recent log lines. With no broker configured
// usage records are only logged (LogSink).
//
// The demo stack (virtual cards, services in demo mode) is package kiosk/demo, which imports this one and
// never the other way round: the production kiosk carries no demo code.
//
// This package must never log, print or put in an error a passcode, SOPIN, security code, email address,
// phone number or card serial: secrets from effects are copied into the card or service call and wiped
// once it returns, and the card serial is used only to make the pseudonymous card key.
package app
