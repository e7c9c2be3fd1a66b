package card

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"ssu-kiosk/hal/card/cardtest"
)

func sw(b ...byte) []byte { return b }

func TestStatusWordsMapToErrors(t *testing.T) {
	for _, tc := range []struct {
		resp []byte
		want error
	}{
		{sw(0x6a, 0x82), ErrNotFound},
		{sw(0x69, 0x82), ErrSecurityStatus},
		{sw(0x69, 0x83), ErrBlocked},
		{sw(0x63, 0xc0), ErrBlocked},
		{sw(0x6a, 0x80), ErrWrongData},
		{sw(0x6d, 0x00), ErrNotSupported},
		{sw(0x6e, 0x00), ErrNotSupported},
		{sw(0x90), ErrCardUnreadable},
	} {
		ft := &cardtest.Transport{Card: func([]byte) ([]byte, error) { return tc.resp, nil }}
		_, err := transmit(ft, Command{INS: insVerify, P2: keyPIN})
		if !errors.Is(err, tc.want) {
			t.Errorf("% X: err = %v, want %v", tc.resp, err, tc.want)
		}
	}
	ft := &cardtest.Transport{Card: func([]byte) ([]byte, error) { return sw(0x63, 0xc2), nil }}
	_, err := transmit(ft, Command{INS: insVerify, P2: keyPIN})
	var auth *AuthError
	if !errors.As(err, &auth) || auth.Retries != 2 || errors.Is(err, ErrBlocked) {
		t.Fatalf("63C2: err = %v", err)
	}
}

func TestGetResponseGathersLongAnswers(t *testing.T) {
	part1, part2 := bytes.Repeat([]byte{1}, 256), bytes.Repeat([]byte{2}, 44)
	ft := &cardtest.Transport{Card: func(cmd []byte) ([]byte, error) {
		if cmd[1] == insGetResponse {
			if cmd[4] != 44 {
				return nil, fmt.Errorf("GET RESPONSE asked for %d", cmd[4])
			}
			return append(append([]byte(nil), part2...), 0x90, 0x00), nil
		}
		return append(append([]byte(nil), part1...), 0x61, 44), nil
	}}
	got, err := transmit(ft, Command{INS: insGetData, P1: 0x3f, P2: 0xff, Data: []byte{0x5c, 1, 0x7e}, Le: 256})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append(part1, part2...)) {
		t.Fatalf("got %d bytes", len(got))
	}
}

// TestGetResponseEndsOnACardThatNeverFinishes: a hostile card that answers every GET RESPONSE with "61 00"
// and no data (so the answer never grows past the bound) must not hold the kiosk in the loop for as long
// as it stays in the reader.
func TestGetResponseEndsOnACardThatNeverFinishes(t *testing.T) {
	calls := 0
	endless := TransportFunc(func([]byte) ([]byte, error) {
		calls++
		if calls > 100000 {
			return nil, errors.New("the kiosk is still asking after 100000 GET RESPONSEs")
		}
		return []byte{0x61, 0x00}, nil
	})
	_, err := transmit(endless, Command{INS: insGetData, P1: 0x3f, P2: 0xff, Data: []byte{0x5c, 1, 0x7e}, Le: 256})
	if !errors.Is(err, ErrCardUnreadable) {
		t.Fatalf("err = %v after %d commands, want ErrCardUnreadable", err, calls)
	}
	if calls > maxResponseBytes/256+2 {
		t.Errorf("%d commands sent; a whole answer of %d bytes takes at most %d", calls, maxResponseBytes, maxResponseBytes/256+2)
	}
}

func TestCommandChaining(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 600)
	ft := &cardtest.Transport{Card: func([]byte) ([]byte, error) { return sw(0x90, 0x00), nil }}
	if _, err := transmit(ft, Command{CLA: 0, INS: 0xdb, P1: 0x3f, P2: 0xff, Data: data}); err != nil {
		t.Fatal(err)
	}
	xs := ft.Exchanges()
	if len(xs) != 3 {
		t.Fatalf("%d APDUs, want 3", len(xs))
	}
	var joined []byte
	for i, x := range xs {
		chained := x.Command[0]&claChain != 0
		if chained != (i < 2) {
			t.Errorf("APDU %d: chaining bit %v", i, chained)
		}
		joined = append(joined, x.Command[5:5+int(x.Command[4])]...)
	}
	if !bytes.Equal(joined, data) {
		t.Fatal("chained data differs")
	}
}

func TestTransportErrorsPassThrough(t *testing.T) {
	ft := &cardtest.Transport{Card: func([]byte) ([]byte, error) { return nil, ErrCardRemoved }}
	if _, err := transmit(ft, Command{INS: insSelect}); !errors.Is(err, ErrCardRemoved) {
		t.Fatalf("err = %v", err)
	}
}

func TestPINPolicy(t *testing.T) {
	for pin, ok := range map[string]bool{
		"123456": true, "12345678": true, "1234567": true,
		"12345": false, "123456789": false, "12345a": false, "": false, "12 456": false,
	} {
		err := CheckPIN(Secret(pin))
		if (err == nil) != ok {
			t.Errorf("%q: err = %v", pin, err)
		}
		if err != nil && (!errors.Is(err, ErrPINPolicy) || (pin != "" && strings.Contains(err.Error(), pin))) {
			t.Errorf("%q: error %q must wrap ErrPINPolicy and not quote the value", pin, err)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("12345678")
	hex := fmt.Sprintf("%x", []byte(s))
	for _, f := range []string{"%v", "%s", "%#v", "%+v", "%q", "%d", "%x", "%X"} {
		if out := fmt.Sprintf(f, s); strings.Contains(out, "1234") || strings.Contains(strings.ToLower(out), hex[:8]) ||
			strings.Contains(out, "49 50") {
			t.Errorf("%s printed the secret: %s", f, out)
		}
	}
	// slog's text handler prints a byte slice as text, its JSON handler and encoding/json in base64.
	var out bytes.Buffer
	slog.New(slog.NewTextHandler(&out, nil)).Info("pin", "puk", s, "in", struct{ PUK Secret }{s})
	slog.New(slog.NewJSONHandler(&out, nil)).Info("pin", "puk", s, "in", struct{ PUK Secret }{s})
	js, err := json.Marshal(struct{ PUK Secret }{s})
	if err != nil {
		t.Fatal(err)
	}
	if all := out.String() + string(js); strings.Contains(all, "1234") || strings.Contains(all, base64.StdEncoding.EncodeToString(s)[:8]) {
		t.Errorf("slog or json printed the secret: %s", all)
	}
	s.Zero()
	if !bytes.Equal(s, make([]byte, 8)) {
		t.Fatal("Zero left bytes")
	}
}

func TestCommandBuffersZeroedAfterSend(t *testing.T) {
	var sent [][]byte
	ft := cardtestFunc(func(cmd []byte) ([]byte, error) {
		sent = append(sent, cmd) // keeps the caller's buffer, against the rules, to see it zeroed
		return sw(0x63, 0xc2), nil
	})
	p := NewPIV(ft)
	_ = p.VerifyPIN(Secret("123456"))
	if len(sent) != 1 || bytes.Contains(sent[0], []byte("123456")) {
		t.Fatalf("the VERIFY buffer still holds the PIN: % X", sent)
	}
}

type cardtestFunc func([]byte) ([]byte, error)

func (f cardtestFunc) Transmit(cmd []byte) ([]byte, error) { return f(cmd) }

func TestUnblockOutcome(t *testing.T) {
	for _, tc := range []struct {
		name        string
		resp        []byte
		err         error
		wantUnknown bool
		want        error
	}{
		{"done", sw(0x90, 0x00), nil, false, nil},
		{"wrong puk", sw(0x63, 0xc1), nil, false, &AuthError{}},
		{"puk blocked", sw(0x69, 0x83), nil, false, ErrBlocked},
		{"pulled", nil, ErrCardRemoved, true, ErrCardRemoved},
		{"service died", nil, ErrServiceDown, true, ErrServiceDown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPIV(cardtestFunc(func([]byte) ([]byte, error) { return tc.resp, tc.err }))
			err := p.Unblock(Secret("12345678"), Secret("654321"))
			if errors.Is(err, ErrOutcomeUnknown) != tc.wantUnknown {
				t.Fatalf("err = %v, unknown want %v", err, tc.wantUnknown)
			}
			switch want := tc.want.(type) {
			case nil:
				if err != nil {
					t.Fatal(err)
				}
			case *AuthError:
				if !errors.As(err, &want) {
					t.Fatalf("err = %v", err)
				}
			default:
				if !errors.Is(err, want) {
					t.Fatalf("err = %v, want %v", err, want)
				}
			}
		})
	}
	// A bad new PIN is refused before anything reaches the card.
	ft := &cardtest.Transport{}
	if err := NewPIV(ft).Unblock(Secret("12345678"), Secret("12")); !errors.Is(err, ErrPINPolicy) || len(ft.Exchanges()) != 0 {
		t.Fatalf("err = %v after %d APDUs", err, len(ft.Exchanges()))
	}
}

func TestParseOID(t *testing.T) {
	oid, err := ParseOID("2.5.4.5")
	if err != nil || !oid.Equal(OIDSerialNumber) {
		t.Fatalf("ParseOID = %v %v", oid, err)
	}
	for _, bad := range []string{"", "2", "2..5", "2.5.x", "2.5."} {
		if _, err := ParseOID(bad); err == nil {
			t.Errorf("ParseOID(%q) accepted", bad)
		}
	}
}

func FuzzResponse(f *testing.F) {
	f.Add([]byte{0x90, 0x00}, []byte{0x61, 0x05})
	f.Add([]byte{0x61, 0x00}, []byte{0x01, 0x02, 0x90, 0x00})
	f.Add([]byte{0x63, 0xc2}, []byte{})
	f.Fuzz(func(t *testing.T, first, rest []byte) {
		calls := 0
		ft := cardtestFunc(func([]byte) ([]byte, error) {
			calls++
			if calls > 300 {
				return nil, ErrCardRemoved
			}
			if calls == 1 {
				return first, nil
			}
			return rest, nil
		})
		_, _ = transmit(ft, Command{INS: insGetData, Le: 256})
	})
}

func FuzzCertificateObject(f *testing.F) {
	f.Add([]byte{0x70, 0x03, 0x30, 0x01, 0x00, 0x71, 0x01, 0x00, 0xfe, 0x00})
	f.Add([]byte{0x71, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseCertificateObject(b)
		_, _ = ParseCHUID(b)
	})
}
