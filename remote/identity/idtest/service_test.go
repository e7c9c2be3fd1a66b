package idtest_test

import (
	"context"
	"testing"

	"ssu-kiosk/remote/identity"
	"ssu-kiosk/remote/identity/idtest"
)

func TestStartService(t *testing.T) {
	s := idtest.StartService(t, "uuid,name,email,mobile,card_serial,sopin\n"+
		"555000000001,Sam Example,sam.example@nhs.net,,d1e0c0de000000000000000000000001,12345678\n")
	card := s.CardCA.ValidCard(t, "d1e0c0de000000000000000000000001", "555000000001")
	ctx := context.Background()
	ch, err := s.Client.Challenge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := s.Client.StartSession(ctx, card.StartRequest(t, ch.Nonce))
	if err != nil || !sess.Eligible {
		t.Fatalf("%+v %v", sess, err)
	}
	if _, err := s.Client.SendCode(ctx, sess.ID, identity.SendCodeRequest{Method: identity.MethodEmail, Address: identity.Secret("sam.example@nhs.net")}); err != nil {
		t.Fatal(err)
	}
	rel, err := s.Client.VerifyCode(ctx, sess.ID, s.Code(t, sess.ID))
	if err != nil || string(rel.SOPIN) != "12345678" {
		t.Fatalf("verify: %v", err)
	}
}
