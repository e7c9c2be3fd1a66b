// Package enrol provisions kiosks: the fleet server's side (a fleet CA, single-use enrolment tokens,
// signing of kiosks' certificate requests, renewal, revocation with a CRL for Mosquitto and a deny list
// for the embedded broker) as an http.Handler over a small Store, and the device's side (a P-256 key
// made on the kiosk, a certificate request, and the atomic writing of the certificate, CA bundles and
// the kiosk's configuration where ssu-kiosk reads them).
//
// The HTTP API, mounted at /enrol/ (Server.ServeHTTP routes on the full path):
//
//	POST /enrol/v1/tokens   admin: {"site","ward"} → {"token","expires"} (single use, 24 h)
//	POST /enrol/v1/kiosks   {"token","csr"} → Enrolment (certificate, CA bundles, configuration)
//	POST /enrol/v1/renew    {"certificate","csr"} → Renewal: the CSR must be signed by the key of the
//	                        current, valid, unrevoked certificate (so it authenticates the kiosk without
//	                        needing client certificates at the TLS terminator)
//	POST /enrol/v1/revoke   admin: {"kiosk"} → {"kiosk","revoked"}
//	GET  /enrol/v1/crl      the fleet CA's current revocation list (PEM)
//	GET  /enrol/v1/ca       the fleet CA certificate (PEM)
//
// Admin calls carry "Authorization: Bearer <admin token>"; the server knows only SHA-256 digests of the
// admin tokens (NewAdminToken makes one and its digest).
//
// It must never log, store or return a token (only SHA-256 digests are stored), never see a kiosk's
// private key (the key is made on the device and only a CSR leaves it), never write a private key with
// permissions wider than 0600, and never sign a request that is not a valid P-256 CSR.
package enrol
