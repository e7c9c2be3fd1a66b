package vcard

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	s := newTestState(t)
	path := filepath.Join(t.TempDir(), "card.json")
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	got, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Serial() != s.Serial() || !bytes.Equal(got.PIN, s.PIN) || !bytes.Equal(got.PIVAuth.Cert, s.PIVAuth.Cert) ||
		!got.NotAfter.Equal(s.NotAfter) || got.PUKTriesLeft != s.PUKTriesLeft {
		t.Fatal("state changed on the way through the file")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("%d files left in the directory, want 1", len(entries))
	}
}

func TestCountersSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.json")
	if err := newTestState(t).Save(path); err != nil {
		t.Fatal(err)
	}
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, c, verifyAPDU("000000"), "63C2")
	expect(t, c, apdu(t, "002C008010"+pad("00000000")+pad("654321")), "63C2")

	c, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, c, apdu(t, "0020008000"), "63C2")
	if s := c.State(); s.PUKTriesLeft != 2 {
		t.Fatalf("PUK tries left %d after reopen, want 2", s.PUKTriesLeft)
	}
	expect(t, c, apdu(t, "0024008010"+pad("123456")+pad("777777")), "9000")
	c, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, c, verifyAPDU("777777"), "9000")
	expect(t, c, apdu(t, "0024008110"+pad("12345678")+pad("76543210")), "9000")
	if s, _ := LoadState(path); !bytes.Equal(s.PUK, []byte("76543210")) || s.PUKTriesLeft != 3 {
		t.Fatal("changed PUK not saved")
	}
}

func TestSaveFailureKeepsCounters(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "card.json")
	if err := newTestState(t).Save(path); err != nil {
		t.Fatal(err)
	}
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	expect(t, c, verifyAPDU("000000"), "6581")
	expect(t, c, apdu(t, "0020008000"), "63C3")
	expect(t, c, apdu(t, "0024008010"+pad("123456")+pad("777777")), "6581")
	expect(t, c, verifyAPDU("123456"), "9000") // the old PIN still holds
}

func TestLoadStateRefusesBadFiles(t *testing.T) {
	good := newTestState(t)
	dir := t.TempDir()
	for name, mod := range map[string]func(m map[string]any){
		"version":        func(m map[string]any) { m["version"] = 2 },
		"guid":           func(m map[string]any) { m["guid"] = "AAEC" },
		"short PIN":      func(m map[string]any) { m["pin"] = "MTIz" },
		"tries too high": func(m map[string]any) { m["pin_tries_left"] = 9 },
		"unknown field":  func(m map[string]any) { m["colour"] = "red" },
		"swapped certs": func(m map[string]any) {
			a, b := m["piv_auth"].(map[string]any), m["card_auth"].(map[string]any)
			a["cert"], b["cert"] = b["cert"], a["cert"]
		},
	} {
		b, _ := json.Marshal(good)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		mod(m)
		b, _ = json.Marshal(m)
		path := filepath.Join(dir, "bad.json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadState(path)
		if err == nil {
			t.Errorf("%s: LoadState worked", name)
			continue
		}
		if strings.Contains(err.Error(), "123456") || strings.Contains(err.Error(), "MTIzNDU2") {
			t.Errorf("%s: error shows the PIN: %v", name, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "trunc.json"), []byte(`{"version":1,"pin":"MTIzNDU2`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadState(filepath.Join(dir, "trunc.json")); err == nil || strings.Contains(err.Error(), "MTIz") {
		t.Errorf("truncated file: %v", err)
	}
	if _, err := LoadState(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file loaded")
	}
}
