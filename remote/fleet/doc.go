// Package fleet is the versioned contract between a kiosk and the fleet server: MQTT topics, the
// messages carried on them, their validation, the access rules both brokers enforce, and the
// scrubber applied to anything a kiosk sends that came from free text.
//
// It must never carry a name, an identity UUID, an email address, a phone number, a security code,
// a PIN or a PUK: the message types have no field for them, Validate refuses values that look like
// them, and a card is known only by a pseudonymous key (HMAC-SHA256 of its serial under a fleet key).
//
// # Topics (version 1)
//
// Every topic is under "ssu/v1/kiosks/{id}/", where {id} is the kiosk's identity: the CN of its client
// certificate, which is also its MQTT client id (e.g. "kiosk-0001"). The fleet server's identity is a
// certificate with its own CN (e.g. "fleet").
//
//	topic                        from   QoS retained  payload
//	ssu/v1/kiosks/{id}/status    kiosk  1   yes       Status: online (birth) or offline (the Will)
//	ssu/v1/kiosks/{id}/health    kiosk  0   no        Health, every 30 s and on change
//	ssu/v1/kiosks/{id}/events    kiosk  1   no        UsageEvent, one per message
//	ssu/v1/kiosks/{id}/ack       fleet  1   no        Ack: event ids the fleet server has stored
//	ssu/v1/kiosks/{id}/cmd       fleet  1   no        Command
//	ssu/v1/kiosks/{id}/cmd/result kiosk 1   no        CommandResult
//
// All payloads are JSON objects with "v": 1. A receiver refuses a message whose "v" it does not know.
//
// # Status and the connection counter
//
// The kiosk keeps a counter on disk and adds one before each connection. Its birth message (online) and
// its Will (offline) carry that counter in "conn". A receiver keeps the highest counter seen per kiosk
// and ignores a status with a lower one, so a Will left over from an older connection, delivered late,
// never overwrites a newer online.
//
// # Usage events and end-to-end acknowledgement
//
// The kiosk writes each UsageEvent to a durable outbox before it moves on, publishes it at QoS 1 and
// deletes it only when an Ack naming its id arrives on ".../ack". PUBACK is not enough: a broker may
// drop QoS 1 messages queued for a slow subscriber. The fleet server acknowledges only after its store
// has committed the event, and it de-duplicates by event id (a UUIDv7), so the kiosk may resend freely.
// The fleet server stores every valid event of a kiosk the broker admitted, known or not (a kiosk it has
// not placed at a site is kept as "unregistered"), so an Ack always means committed.
//
// # Where a kiosk is
//
// Status and UsageEvent carry the site and ward of the kiosk's configuration, as place tokens
// (PlaceToken). The fleet server does not believe them: it files a kiosk's reports under the place its
// enrolment names, or an IT admin's choice, so a kiosk cannot write into another site's reports.
//
// # Health and lost events
//
// Health reports the outbox: outbox_depth (waiting for an Ack), outbox_bound, outbox_dropped (the oldest
// events discarded at the bound, ever), outbox_lost (events the outbox could not write since the kiosk
// started: its disk full or another write error; those events are gone) and outbox_full (the latest
// write failed for lack of space). The fleet server shows them on the kiosk's page and raises an
// "outbox-full" alert while outbox_full holds.
//
// # Commands
//
// Only the fleet identity may publish on ".../cmd" (the broker's access rules). Each Command has an id;
// the kiosk runs a given id at most once and answers every command on ".../cmd/result": a replayed id,
// an unknown command, an expired command or a malformed payload is answered with status "refused" and a
// reason. Commands: maintenance (on/off with a message), reboot (deferred until no unlock is under way),
// reload (configuration), methods (enable/disable verification methods), identify (blink the LEDs for
// 15 s), logs (recent log lines, scrubbed) and update (download a release over HTTPS, check its
// sha256, install it to the other slot, reboot when idle; each step is reported as an "update" event).
//
// # Access rules
//
// Rules lists, as data, what each identity may do; the embedded broker evaluates them through Allowed and
// ssu-ctl broker-config turns them into a Mosquitto ACL file. A kiosk may publish only on its own status,
// health, events and cmd/result topics (its Will included) and subscribe only to its own cmd and ack
// topics; the fleet identity may do anything under "ssu/v1/".
package fleet
