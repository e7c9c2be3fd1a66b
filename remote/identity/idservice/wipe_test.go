package idservice_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/idservice"
)

// keepingCourier keeps the very slices it was handed (no copies), and what they held at delivery.
type keepingCourier struct {
	mu           sync.Mutex
	codes, body  [][]byte
	sawCode      []string
	sawBodyWithC bool
}

func (k *keepingCourier) Deliver(_ context.Context, m idservice.Message) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.codes, k.body = append(k.codes, m.Code), append(k.body, m.Body)
	k.sawCode = append(k.sawCode, string(m.Code))
	k.sawBodyWithC = bytes.Contains(m.Body, m.Code)
	return nil
}

// TestCodeBuffersAreWipedAfterSending: the code and the message body handed to a courier are byte slices,
// zeroed once the delivery is over, so no copy of the code outlives it in the service's memory.
func TestCodeBuffersAreWipedAfterSending(t *testing.T) {
	k := &keepingCourier{}
	h := newHarness(t, sqliteDSN(t), func(c *idservice.Config) { c.Email, c.SMS = k, k })
	ctx := context.Background()
	s := h.start(h.client, samSerial)
	if _, err := h.client.SendCode(ctx, s.ID, identity.SendCodeRequest{Method: identity.MethodSMS, Address: identity.Secret(samMobile)}); err != nil {
		t.Fatal(err)
	}
	h.svc.Close() // waits for the delivery
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.codes) != 1 || len(k.sawCode[0]) != identity.CodeDigits || !k.sawBodyWithC {
		t.Fatalf("delivered: %d messages, body held the code: %v", len(k.codes), k.sawBodyWithC)
	}
	for i := range k.codes {
		if !bytes.Equal(k.codes[i], make([]byte, len(k.codes[i]))) {
			t.Error("the code was not zeroed after sending")
		}
		if len(k.body[i]) == 0 || !bytes.Equal(k.body[i], make([]byte, len(k.body[i]))) {
			t.Error("the message body was not zeroed after sending")
		}
	}
	// The harness's log check looks for every code sent.
	for _, c := range k.sawCode {
		_ = h.sms.Deliver(ctx, idservice.Message{Code: identity.Secret(c)})
	}
}
