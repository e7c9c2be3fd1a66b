// Package ingest is the fleet server's receiving end of the fleet link: a Receiver subscribes to every
// kiosk's topics as the fleet identity, writes what arrives to a Store in batches, de-duplicates usage
// events by event id, and acknowledges events on each kiosk's ".../ack" topic only after the batch
// holding them has been committed. It also sends kiosks commands.
//
// Store is deliberately small (one Save per batch) so the fleet server can put PostgreSQL behind it;
// SQLite is the implementation here, with its schema in numbered migrations.
//
// It must never acknowledge an event before it is committed, and never log a payload.
package ingest
