// Package fleetserver is ssu-fleetd, the fleet server, in parts: store (SQLite or PostgreSQL, one schema
// through versioned migrations, the ingest.Store the fleet receiver writes to), alerts (fleet health
// rules, webhook and email notices), web (the dashboard, usage reports, JSON API and /metrics) and seed
// (a year of synthetic usage for demonstrations and benchmarks).
//
// Nothing in it ever holds a name, email address, phone number, security code, PIN or PUK: kiosks send
// none (package fleet refuses them), cards are known only by their pseudonymous key, and the only
// secrets it keeps are its users' password hashes and session tokens (hashed).
package fleetserver
