package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"ssu-kiosk/kiosk/flow/texts"
)

// withALSAFile sends the kiosk's audio to a raw file: ALSA's default device becomes a file plugin over
// the null device (and PulseAudio is never found), and returns the file's path.
func withALSAFile(t testing.TB) string {
	t.Helper()
	need(t, "espeak-ng", "espeak-ng")
	dir := t.TempDir()
	raw := filepath.Join(dir, "speech.raw")
	conf := filepath.Join(dir, "asound.conf")
	c := `pcm.!default { type file; slave.pcm "null"; file "` + raw + `"; format "raw" }
pcm.null { type null }
`
	if err := os.WriteFile(conf, []byte(c), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ALSA_CONFIG_PATH", conf)
	t.Setenv("PULSE_SERVER", "unix:"+filepath.Join(dir, "no-pulse"))
	return raw
}

// heard waits for the kiosk to have spoken screen id in lang, and returns the words and the delay from
// the screen change to the first sample handed to the sound card.
func (k *kiosk) heard(t testing.TB, id string, lang texts.Lang) (string, float64) {
	t.Helper()
	l := k.log.next(t, 30*time.Second, "msg=spoken ", "id="+id+" ", "lang="+string(lang))
	text := k.log.next(t, 5*time.Second, `msg="spoken text"`, "id="+id+" ")
	_, words, _ := strings.Cut(text, "text=")
	return words, fieldFloat(l, "ms")
}

// speechWalk unlocks the locked demo card by keyboard with speech on, in lang, checking each screen's
// words against the catalogue, and returns the screen-to-speech delays.
func speechWalk(t testing.TB, lang texts.Lang) []float64 {
	raw := withALSAFile(t)
	k := startDemo(t, 800, 480)
	p := texts.NewPrinter(lang)
	var delays []float64
	hear := func(id, title string, more ...string) {
		t.Helper()
		words, ms := k.heard(t, id, lang)
		for _, w := range append([]string{p.Sprintf(title)}, more...) {
			if !strings.Contains(words, w) {
				t.Errorf("%s in %s: spoke %s, want %q in it", id, lang, words, w)
			}
		}
		delays = append(delays, ms)
	}
	if lang != texts.English {
		k.key(t, "F6")
	}
	// The speech key: held for 2 s, the kiosk turns speech on and says the screen it is on.
	k.log.forgetInput()
	k.xdo(t, "keydown", "F12")
	k.log.seen(t, "msg=pressed", "key=F12")
	k.log.next(t, 20*time.Second, "msg=\"speech key held\"")
	k.xdo(t, "keyup", "F12")
	k.log.seen(t, "msg=released", "key=F12")
	hear("welcome", "Insert your smartcard", p.Sprintf("Speech is on. Hold F12 for 2 seconds to turn it off. F11 repeats, F9 and F10 change the volume, F6 changes the language."))
	k.key(t, "F2") // demo: insert the locked card
	hear("start-now", "Unlock your smartcard")
	k.key(t, "Return")
	hear("choose-method", "How do you want to confirm it is you?")
	k.key(t, "Tab")
	k.key(t, "Return")
	hear("enter-address", "Enter your email address")
	k.typ(t, "sam.example@nhs.net")
	k.key(t, "Return")
	hear("enter-code", "Enter the security code", p.Sprintf("Press Enter to continue, Escape to cancel."))
	code := k.securityCode(t)
	k.typ(t, code)
	k.key(t, "Return")
	hear("choose-passcode", "Choose a new passcode")
	const newPIN = "592748"
	k.typ(t, newPIN)
	k.key(t, "Return")
	k.typ(t, newPIN)
	k.key(t, "Return")
	hear("unlocked", "Your smartcard is unlocked")
	k.key(t, "F2")
	k.screen(t, "welcome")
	noSecretsLogged(t, k, "sam.example", "s a m", newPIN, code, "12345678", demoCardSerial)
	// Every spoken text is in the log (with the address left out): none holds a digit of the code or
	// passcode. Only the spoken text is read (the line's time= may hold any digits), less the examples the
	// catalogue itself gives ("such as 123456", "like 07700 900123"), which a random code may share.
	k.log.mu.Lock()
	for _, l := range k.log.all {
		m := spokenTextRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		spoken := m[1]
		for _, example := range []string{"123456", "07700 900123"} {
			spoken = strings.ReplaceAll(spoken, example, "")
		}
		for _, secret := range []string{code[:3], code[3:], newPIN[:3], newPIN[3:]} {
			if strings.Contains(spoken, secret) {
				t.Errorf("spoke digits of a code or passcode: %s", l)
			}
		}
	}
	k.log.mu.Unlock()
	// The speech key held again turns speech off.
	k.xdo(t, "keydown", "F12")
	k.log.next(t, 20*time.Second, "msg=speech", "on=false")
	k.xdo(t, "keyup", "F12")
	// And the sound card (the ALSA file) got the samples.
	b, err := os.ReadFile(raw)
	if err != nil {
		t.Fatalf("no audio reached ALSA: %v", err)
	}
	loud := 0
	for i := 0; i+1 < len(b); i += 2 {
		if v := int16(binary.LittleEndian.Uint16(b[i:])); v > 2000 || v < -2000 {
			loud++
		}
	}
	if loud < 22050/2 {
		t.Fatalf("ALSA caught %d bytes, %d loud samples: too little speech", len(b), loud)
	}
	// (The null device under the file plugin is not paced, so the file also holds much silence.)
	t.Logf("%s: %d screens spoken, %d loud samples reached ALSA, screen-to-speech median %.0f ms", lang, len(delays),
		loud, median(delays))
	return delays
}

// TestSpeechWalkThrough: speech on by the speech key, a keyboard-only unlock in English and in Welsh
// through the real stack, audio into an ALSA file device.
func TestSpeechWalkThrough(t *testing.T) {
	for _, lang := range texts.Langs() {
		t.Run(string(lang), func(t *testing.T) { speechWalk(t, lang) })
	}
}

// BenchmarkScreenToSpeech: the delay from a screen change to its first audio sample going to the sound
// card (espeak-ng's synthesis included), over an English walk-through.
func BenchmarkScreenToSpeech(b *testing.B) {
	var all []float64
	for range b.N {
		all = append(all, speechWalk(b, texts.English)...)
	}
	b.ReportMetric(median(all), "screen-to-first-sample-ms(median)")
	b.ReportMetric(maxOf(all), "screen-to-first-sample-ms(max)")
}

func maxOf(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// spokenTextRE reads the text of a "spoken text" log line.
var spokenTextRE = regexp.MustCompile(`msg="spoken text".* text="((?:[^"\\]|\\.)*)"`)
