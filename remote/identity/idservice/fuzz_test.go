package idservice

import (
	"bytes"
	"crypto/x509"
	"testing"
	"time"

	"ssu-kiosk/remote/identity"
)

// FuzzDecodeRequest feeds arbitrary bodies to the request decoder and, when they decode, to the checks that
// follow: nothing may panic, and a decoded request is always one JSON object with known fields.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"cardSerial":"00000000000000000000000000000001","holderUuid":"555000000001","pivAuthCert":"MIIB","cardAuthCert":"MIIB","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","signature":"MEUCIQ=="}`,
		`{"method":"email","address":"sam.example@nhs.net"}`,
		`{"method":"sms","address":null}`,
		`{"method":"email","address":"sam.example@nhs.net","language":"cy"}`,
		`{"method":"email","address":"sam.example@nhs.net","language":""}`,
		`{"code":"123456"}`,
		`{"code":123456}`,
		`{"outcome":"failed","reason":"ERR2006"}`,
		`{"a":1} {"b":2}`,
		`[]`, `null`, `"x"`, `{"nonce":"!!"}`, "\xff\xfe{",
	} {
		f.Add([]byte(seed))
	}
	roots := x509.NewCertPool()
	f.Fuzz(func(t *testing.T, data []byte) {
		var start identity.StartSessionRequest
		if decodeRequest(bytes.NewReader(data), &start) == nil {
			if validStart(start) == nil {
				_ = checkCard(start, cardPolicy{roots: roots, holderAttr: oidSerialNumber}, time.Now())
			}
		}
		var send identity.SendCodeRequest
		if decodeRequest(bytes.NewReader(data), &send) == nil && send.Language.Valid() {
			_ = codeMessage(wordingFor(send.Language), identity.Secret("123456"))
		}
		var verify identity.VerifyCodeRequest
		_ = decodeRequest(bytes.NewReader(data), &verify)
		var done identity.CompleteRequest
		if decodeRequest(bytes.NewReader(data), &done) == nil {
			_ = done.Outcome.Valid()
		}
		var empty struct{}
		_ = decodeRequest(bytes.NewReader(data), &empty)
	})
}
