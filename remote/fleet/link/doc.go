// Package link is the kiosk's side of the fleet link: an Agent that keeps one MQTT connection to the
// fleet's broker over mutual TLS, announces the kiosk online (birth) and offline (Will) with a durable
// connection counter, publishes health every 30 s and on change, sends usage events from the durable
// outbox until the fleet server acknowledges them, and runs remote commands at most once each.
//
// The kiosk talks to it through Record (a usage event, durable when it returns), SetBusy (an unlock is
// under way: a reboot waits) and two small interfaces it implements: HealthSource and Commands.
//
// It must never publish, log or return in an error a name, identity UUID, email address, phone number,
// security code, PIN or PUK: events are validated by package fleet, log lines sent on request are
// scrubbed, and payloads are never logged. It must not import the kiosk's UI or flow packages.
package link
