package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const oldPIN = "314159" // the demo cards' passcode before unlocking

// demoCardSerial is the locked demo card's serial (its CHUID GUID), which must never be logged.
const demoCardSerial = "8bf9585134e74c3aaf32fc51578aefd4"

// TestUnlockByKeyboard unlocks the locked demo card with the keyboard only, at 1920x1080, through the
// real stack: pcscd + vpcd + ssu-vcard + ssu-idservice --demo + ssu-kiosk under Xvfb, driven by xdotool.
func TestUnlockByKeyboard(t *testing.T) {
	k := startDemo(t, 1920, 1080)
	// Locked down: the keys that close or leave an application (or, on a console, switch VT) do nothing;
	// had the kiosk quit, the screens below would never come.
	k.xdo(t, "key", "--delay", "120", "ctrl+q", "ctrl+w", "ctrl+alt+F1", "alt+F4")
	k.log.seen(t, "msg=released", "key=F4")
	k.key(t, "F2") // demo: insert the selected (locked) card
	const newPIN = "592748"
	code := k.unlockByKeyboard(t, "sam.example@nhs.net", newPIN)
	k.key(t, "F2") // take the card out
	k.screen(t, "welcome")
	// Nor the card's serial, which only reaches the fleet as a keyed hash.
	noSecretsLogged(t, k, "sam.example", newPIN, "12345678", demoCardSerial, code)
	verifyWithOpenSC(t, filepath.Join(k.dir, "cards", "1-locked.json"), newPIN, oldPIN)
	fleetSawUnlock(t, k)
}

// unlockByKeyboard takes a locked card, just inserted, from the start-now screen to unlocked with the
// keyboard: email code to address, the code from the identity service's outbox, newPIN twice. It
// returns the code.
func (k *kiosk) unlockByKeyboard(t testing.TB, address, newPIN string) (code string) {
	t.Helper()
	k.screen(t, "start-now")
	k.key(t, "Return") // Start now
	k.screen(t, "choose-method")
	k.key(t, "Tab") // to "Email security code"
	k.key(t, "Return")
	k.screen(t, "enter-address")
	k.typ(t, address)
	k.key(t, "Return")
	k.screen(t, "enter-code")
	code = k.securityCode(t)
	k.typ(t, code)
	k.key(t, "Return")
	k.screen(t, "choose-passcode")
	k.typ(t, newPIN)
	k.key(t, "Return") // on to the second field
	k.typ(t, newPIN)
	k.key(t, "Return") // Confirm
	k.screen(t, "unlocked")
	return code
}

// noSecretsLogged fails if the kiosk's log holds any of the values a person typed (address, security
// code, passcode), the SOPIN or the card's serial.
func noSecretsLogged(t testing.TB, k *kiosk, secrets ...string) {
	t.Helper()
	k.log.mu.Lock()
	all := strings.Join(k.log.all, "\n")
	k.log.mu.Unlock()
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("the kiosk logged a secret or personal value (%d characters)", len(s))
		}
	}
}

// TestUnlockByTouch unlocks the locked demo card by clicking the on-screen keys only, at 800x480.
func TestUnlockByTouch(t *testing.T) {
	k := startDemo(t, 800, 480)
	k.key(t, "F2")
	tg := k.targets(t, "start-now")
	press := func(tg map[string][2]int, name string) {
		t.Helper()
		at, ok := tg[name]
		if !ok {
			t.Fatalf("no %s on screen: %v", name, tg)
		}
		k.click(t, at[0], at[1])
	}
	press(tg, "button:start")
	tg = k.targets(t, "choose-method")
	press(tg, "button:email")
	tg = k.targets(t, "enter-address")
	for _, c := range "sam.example" {
		press(tg, "key:"+string(c))
	}
	press(tg, "key:@nhs.net")
	press(tg, "button:continue")
	tg = k.targets(t, "enter-code")
	code := k.securityCode(t)
	for _, c := range code {
		press(tg, "key:"+string(c))
	}
	press(tg, "button:continue")
	tg = k.targets(t, "choose-passcode")
	const newPIN = "604729"
	for _, c := range newPIN {
		press(tg, "key:"+string(c))
	}
	press(tg, "field:confirm-passcode")
	for _, c := range newPIN {
		press(tg, "key:"+string(c))
	}
	press(tg, "button:confirm")
	k.screen(t, "unlocked")
	k.key(t, "F2")
	k.screen(t, "welcome")
	noSecretsLogged(t, k, "sam.example", newPIN, "12345678", demoCardSerial, code)
	verifyWithOpenSC(t, filepath.Join(k.dir, "cards", "1-locked.json"), newPIN, oldPIN)
}

// TestDemoCards walks the other demo cards through the real stack, as a person trying the demo would:
// F3 picks the next card, F2 inserts and removes it. The expired card is sent to the RA, the holder with
// no email is told why not, and the unlocked card's passcode is changed (then checked with OpenSC).
func TestDemoCards(t *testing.T) {
	k := startDemo(t, 800, 480)
	k.out.next(t, 10*time.Second, "Security codes are NOT sent: read them at")

	k.key(t, "F3") // card 2: expired certificates
	k.key(t, "F2")
	k.screen(t, "card-expired")
	k.key(t, "F2")
	k.screen(t, "welcome")

	k.key(t, "F3") // card 3: no email on the profile
	k.key(t, "F2")
	tg := k.targets(t, "start-now")
	k.click(t, tg["button:start"][0], tg["button:start"][1])
	k.screen(t, "not-eligible")
	k.key(t, "F2")
	k.screen(t, "welcome")

	k.key(t, "F3") // card 4: not locked, its passcode known
	k.key(t, "F2")
	tg = k.targets(t, "start-now")
	k.click(t, tg["button:change-passcode"][0], tg["button:change-passcode"][1])
	k.screen(t, "change-passcode")
	const newPIN = "270418"
	k.typ(t, oldPIN)
	k.key(t, "Return")
	k.typ(t, newPIN)
	k.key(t, "Return")
	k.typ(t, newPIN)
	k.key(t, "Return")
	k.screen(t, "passcode-changed")
	k.key(t, "F2")
	k.screen(t, "welcome")
	noSecretsLogged(t, k, oldPIN, newPIN)
	verifyWithOpenSC(t, filepath.Join(k.dir, "cards", "4-unlocked.json"), newPIN, oldPIN)
}
