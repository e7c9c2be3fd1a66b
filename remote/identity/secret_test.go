package identity_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"ssu-kiosk/remote/identity"
)

// TestSecretJSONMatchesEncodingJSON: a Secret is encoded and decoded without passing through a Go string,
// exactly as encoding/json does for strings.
func TestSecretJSONMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		"", "123456", "12345678", "sam.example@nhs.net", "+44 (0)7700 900123", `quote " and \ back`,
		"tab\tnew\nline\r\x00\x1f", "<script>&amp;</script>", "é ü 日本 😀", "line\u2028sep\u2029", "bad \xff\xfe utf8",
	} {
		want, _ := json.Marshal(in)
		got, err := identity.Secret(in).MarshalJSON()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("MarshalJSON(%q) = %s, want %s", in, got, want)
		}
		var back identity.Secret
		if err := json.Unmarshal(want, &back); err != nil {
			t.Errorf("UnmarshalJSON(%s): %v", want, err)
			continue
		}
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if string(back) != wantBack {
			t.Errorf("UnmarshalJSON(%s) = %q, want %q", want, back, wantBack)
		}
	}
	for _, lit := range []string{`"\u00e9\ud83d\ude00\/\b\f"`, `"\ud83d alone"`, `"\uDC00"`, `"A\u0041"`} {
		var got identity.Secret
		var want string
		if err := json.Unmarshal([]byte(lit), &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(lit), &got); err != nil || string(got) != want {
			t.Errorf("UnmarshalJSON(%s) = %q %v, want %q", lit, got, err, want)
		}
	}
	for _, bad := range []string{`12`, `"unterminated`, `"bad \x escape"`, `"\u12"`, `{}`} {
		var got identity.Secret
		if err := got.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("UnmarshalJSON(%s) accepted", bad)
		}
	}
	var null identity.Secret = identity.Secret("x")
	if err := json.Unmarshal([]byte(`null`), &null); err != nil || null != nil {
		t.Errorf("null: %q %v", null, err)
	}
}

// TestSendCodeRequestJSON: the hand-built JSON of a send-code request is what encoding/json makes of it,
// with the language only when one is set (kiosks that send none get English).
func TestSendCodeRequestJSON(t *testing.T) {
	for _, lang := range []identity.Language{"", identity.LanguageEnglish, identity.LanguageWelsh} {
		req := identity.SendCodeRequest{Method: identity.MethodEmail, Address: identity.Secret("sam@nhs.net"), Language: lang}
		got := req.AppendJSON(nil)
		want, _ := json.Marshal(struct {
			Method   string `json:"method"`
			Address  string `json:"address"`
			Language string `json:"language,omitempty"`
		}{"email", "sam@nhs.net", string(lang)})
		if !bytes.Equal(got, want) {
			t.Errorf("language %q: AppendJSON = %s, want %s", lang, got, want)
		}
		var back identity.SendCodeRequest
		if err := json.Unmarshal(got, &back); err != nil || back.Language != lang || back.Language.OrDefault() == "" {
			t.Errorf("language %q: decoded %q, %v", lang, back.Language, err)
		}
	}
	for _, bad := range []string{`{"language":""}`, `{"language":null}`, `{"language":7}`} {
		var req identity.SendCodeRequest
		if err := json.Unmarshal([]byte(bad), &req); err == nil {
			t.Errorf("%s accepted: the contract allows the language to be absent, never empty", bad)
		}
	}
	if identity.Language("fr").Valid() || !identity.Language("").Valid() || !identity.LanguageWelsh.Valid() {
		t.Error("Valid: only en, cy and empty are languages of the contract")
	}
}
