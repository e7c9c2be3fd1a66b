package speech_test

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/kiosk/flow/texts"
	"ssu-kiosk/kiosk/ui/speech"
	"ssu-kiosk/kiosk/ui/speech/speechtest"
	"ssu-kiosk/kiosk/ui/uitest"
)

// secrets are the code and passcodes uitest types: no run of them may be spoken.
var secrets = []string{"482", "913", "6058", "605817", "111111"}

// Every screen has a spoken form in both languages, with its title, and no typed secret in it.
func TestEveryScreenIsSpokenInBothLanguages(t *testing.T) {
	for _, lang := range texts.Langs() {
		n := 0
		for _, s := range uitest.ScreensIn(lang) {
			if len(s.Missing) > 0 {
				t.Errorf("%s %s: texts missing from the catalogue: %q", lang, s.Name, s.Missing)
			}
			u := speech.Script(s.Screen, speech.Focus{Field: s.Screen.Focus}, speech.Whole)
			if u.Lang != lang || u.Screen != s.Screen.ID {
				t.Errorf("%s %s: utterance for %s in %s", lang, s.Name, u.Screen, u.Lang)
			}
			if !strings.Contains(u.Text, s.Screen.Title) {
				t.Errorf("%s %s: %q does not say the title %q", lang, s.Name, u.Text, s.Screen.Title)
			}
			for _, sec := range secrets {
				if strings.Contains(u.Text, sec) || strings.Contains(u.Log, sec) {
					t.Errorf("%s %s: %q speaks typed digits %s", lang, s.Name, u.Text, sec)
				}
			}
			if lang == texts.Welsh {
				// No English left on a Welsh screen: a text that is an English message of the catalogue
				// was not translated (a new screen or error whose words the catalogue lacks in Welsh).
				shown := append([]string{s.Screen.Title}, s.Screen.Body...)
				for _, b := range s.Screen.Buttons {
					shown = append(shown, b.Label)
				}
				for _, f := range s.Screen.Fields {
					shown = append(shown, f.Label, f.Error)
				}
				for _, x := range shown {
					if x != "" && texts.Has(texts.English, x) && !texts.Has(texts.Welsh, x) {
						t.Errorf("%s: %q is shown in English on a Welsh screen", s.Name, x)
					}
				}
				for _, en := range []string{"Press ", " entered", "button", "Please wait"} {
					if strings.Contains(u.Text, en) {
						t.Errorf("%s: Welsh speech has English %q: %q", s.Name, en, u.Text)
					}
				}
			}
			n++
		}
		t.Logf("%s: %d screens spoken", lang, n)
	}
}

// The example, and the address spelled back in speech but never in the log.
func TestScriptSaysFocusAndNext(t *testing.T) {
	var code, addr flow.Screen
	for _, s := range uitest.Screens() {
		switch s.Name {
		case "enter-code":
			code = s.Screen
		case "enter-address":
			addr = s.Screen
		}
	}
	u := speech.Script(code, speech.Focus{Field: flow.FieldCode}, speech.Whole)
	for _, want := range []string{"Enter the security code.", "Security code, 3 of 6 entered.", "Press Enter to continue, Escape to cancel."} {
		if !strings.Contains(u.Text, want) {
			t.Errorf("enter-code says %q, want %q in it", u.Text, want)
		}
	}
	f := speech.Script(code, speech.Focus{Field: flow.FieldCode}, speech.FocusOnly)
	if f.Text != "Security code, 3 of 6 entered. Press Enter to continue, Escape to cancel." {
		t.Errorf("focus only: %q", f.Text)
	}
	a := speech.Script(addr, speech.Focus{Field: flow.FieldAddress}, speech.FocusOnly)
	if !strings.Contains(a.Text, "s a m . e x a m p l e @ n h s") || strings.Contains(a.Log, "sam") || strings.Contains(a.Log, "s a m") {
		t.Errorf("address: spoken %q, logged %q", a.Text, a.Log)
	}
	b := speech.Script(code, speech.Focus{Button: flow.ButtonCancel}, speech.FocusOnly)
	if !strings.HasPrefix(b.Text, "Press Enter to choose Cancel.") {
		t.Errorf("button focus: %q", b.Text)
	}
}

func wait(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Speech starts when a headset is plugged in and stops, mid-sentence, when it is pulled; the key turns it
// on and off; a time warning sounds even with speech off.
func TestSpeakerHeadsetAndKey(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	eng, sink := &speechtest.Engine{}, speechtest.NewSink(true)
	s := speech.NewSpeaker(eng, sink, nil)
	go s.Run(ctx)
	welcome := speech.Script(uitest.Screens()[1].Screen, speech.Focus{}, speech.Whole)
	s.Say(welcome)
	time.Sleep(50 * time.Millisecond)
	if p, _, _ := sink.Counts(); p != 0 || len(eng.Said()) != 0 {
		t.Fatalf("speech off: %d plays", p)
	}
	s.Headset(true)
	<-sink.Plays
	said := eng.Said()
	if len(said) != 1 || !strings.HasPrefix(said[0].Text, "Speech is on.") || !strings.Contains(said[0].Text, welcome.Text) {
		t.Fatalf("plugged in: said %q", said)
	}
	s.Headset(false)
	wait(t, func() bool { _, cut, _ := sink.Counts(); return cut == 1 })
	s.Say(welcome)
	time.Sleep(50 * time.Millisecond)
	if p, _, _ := sink.Counts(); p != 1 {
		t.Fatalf("after pulling the headset: %d plays, want still 1", p)
	}
	// With jack detection, the key does nothing while no headset is in: speech never goes to a loudspeaker.
	s.Toggle()
	s.Say(welcome)
	time.Sleep(50 * time.Millisecond)
	if p, _, _ := sink.Counts(); p != 1 {
		t.Fatalf("key with no headset in: %d plays", p)
	}
	// A time warning is a tone even with speech off.
	s.SetOn(false)
	s.Warn(welcome)
	if n := <-sink.Plays; n != 22050/4 {
		t.Fatalf("warning: %d samples, want a quarter-second tone", n)
	}
}

// With no jack detection, the speech key turns speech on and off; volume and repeat work.
func TestSpeakerKeyWithoutJack(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	eng, sink := &speechtest.Engine{}, speechtest.NewSink(false)
	s := speech.NewSpeaker(eng, sink, nil)
	go s.Run(ctx)
	s.Say(speech.Utterance{Lang: texts.Welsh, Text: "Rhowch eich cerdyn clyfar i mewn."})
	s.Toggle()
	<-sink.Plays
	s.Louder()
	<-sink.Plays
	if v := s.Volume(); v != 0.9 {
		t.Errorf("volume %v after Louder, want 0.9", v)
	}
	s.Repeat()
	<-sink.Plays
	said := eng.Said()
	if len(said) != 3 || said[2].Lang != texts.Welsh || said[2].Text != "Rhowch eich cerdyn clyfar i mewn." {
		t.Errorf("said %q", said)
	}
	if !strings.HasPrefix(said[0].Text, "Mae lleferydd ymlaen.") {
		t.Errorf("the Welsh introduction is %q", said[0].Text)
	}
}

// espeak-ng speaks English and Welsh.
func TestEspeak(t *testing.T) {
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Fatal("espeak-ng not found: apt-get install espeak-ng")
	}
	for _, l := range texts.Langs() {
		a, err := speech.Espeak{}.Synthesize(context.Background(), l, texts.NewPrinter(l).Sprintf("Insert your smartcard"))
		if err != nil {
			t.Fatal(err)
		}
		if a.Rate != 22050 || len(a.Samples) < a.Rate/2 {
			t.Errorf("%s: %d samples at %d Hz", l, len(a.Samples), a.Rate)
		}
	}
}

// Oto plays through libasound: an ALSA configuration sends the default device to a file.
func TestOtoToALSAFile(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "out.raw")
	conf := filepath.Join(dir, "asound.conf")
	writeALSAFileConfig(t, conf, raw)
	t.Setenv("ALSA_CONFIG_PATH", conf)
	t.Setenv("PULSE_SERVER", "unix:"+filepath.Join(dir, "no-pulse")) // never a desktop's PulseAudio
	out := &speech.Oto{}
	tone := speech.Tone(440, 200*time.Millisecond, 22050)
	if err := out.Play(context.Background(), tone, 1); err != nil {
		t.Fatalf("play: %v (needs libasound2)", err)
	}
	b, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	// Between utterances the device is suspended: nothing more is written (an idle kiosk feeds it nothing).
	time.Sleep(300 * time.Millisecond)
	if fi, err := os.Stat(raw); err != nil || fi.Size() != int64(len(b)) {
		t.Errorf("the device was still fed after the play: %d bytes, then %d", len(b), fi.Size())
	}
	var loud int
	for i := 0; i+1 < len(b); i += 2 {
		if v := int16(binary.LittleEndian.Uint16(b[i:])); v > 1000 || v < -1000 {
			loud++
		}
	}
	if loud < len(tone.Samples)/4 {
		t.Fatalf("the ALSA file holds %d bytes, %d loud samples: the tone was not played", len(b), loud)
	}
}

// writeALSAFileConfig makes ALSA's default device write raw samples to raw.
func writeALSAFileConfig(t *testing.T, conf, raw string) {
	t.Helper()
	c := `pcm.!default { type file; slave.pcm "null"; file "` + raw + `"; format "raw" }
pcm.null { type null }
`
	if err := os.WriteFile(conf, []byte(c), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A code or passcode field is spoken as a count even if a model ever carried its value unmasked.
func TestSecretFieldsAreCountsOnly(t *testing.T) {
	for _, kind := range []flow.FieldKind{flow.KindCode, flow.KindPasscode} {
		sc := flow.Screen{ID: flow.EnterCode, Title: "Enter the security code", Lang: texts.English,
			Fields: []flow.Field{{ID: flow.FieldCode, Kind: kind, Label: "Security code", Value: "482913", Length: 6, MaxLength: 6}}}
		u := speech.Script(sc, speech.Focus{Field: flow.FieldCode}, speech.Whole)
		if strings.ContainsAny(u.Text, "4829") || !strings.Contains(u.Text, "6 of 6 entered") {
			t.Errorf("%s field spoken as %q", kind, u.Text)
		}
	}
}
