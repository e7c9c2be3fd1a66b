// Package fleetserver is ssu-fleetd, the fleet server, in parts: store (SQLite or PostgreSQL, one schema
// through versioned migrations, the ingest.Store the fleet receiver writes to), alerts (fleet health
// rules, webhook and email notices), web (the dashboard, usage reports, JSON API and /metrics) and seed
// (a year of synthetic usage for demonstrations and benchmarks).
//
// Policies it holds (README, "The fleet server: trust rules"): a kiosk's site and ward are its
// enrolment's or an IT admin's, never what its messages say; every valid message of an admitted kiosk is
// stored before its events are acknowledged, a kiosk that cannot be placed being kept as unregistered
// (in no site's report) until an IT admin places it; sign-in failures are limited per account and,
// much more loosely, per address (a trusted proxy's X-Forwarded-For believed only from it); /metrics is
// off the dashboard's listener unless it carries a bearer token.
//
// Nothing in it ever holds a name, email address, phone number, security code, PIN or PUK: kiosks send
// none (package fleet refuses them), cards are known only by their pseudonymous key, and the only
// secrets it keeps are its users' password hashes and session tokens (hashed).
package fleetserver
