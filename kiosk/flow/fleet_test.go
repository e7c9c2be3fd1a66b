package flow

import (
	"strings"
	"testing"
	"time"
)

func TestMaintenance(t *testing.T) {
	cfg := testConfig()
	cfg.Maintenance = true
	d := newDriver(t, cfg)
	d.want(OutOfService)
	sc := d.m.Screen()
	if sc.LED != LEDOutOfService || sc.Body[0] != DefaultMaintenanceMessage || d.m.Busy() {
		t.Fatalf("screen = %+v", sc)
	}
	d.insert()
	d.want(OutOfService)
	if count[ReadCard](d.effects) != 0 {
		t.Fatal("no session while out of service")
	}
	// maintenance ends with a card in: its session starts
	d.send(MaintenanceChanged{At: d.now, On: false})
	d.want(ReadingCard)
	d.readCard(lockedCard)
	// maintenance starts mid-session: it waits
	d.send(MaintenanceChanged{At: d.now, On: true, Message: "Back at 2pm."})
	d.want(StartNow)
	d.press(ButtonStart)
	d.press(ButtonCancel)
	d.want(RemoveCard)
	d.remove()
	d.want(OutOfService)
	if d.m.Screen().Body[0] != "Back at 2pm." {
		t.Fatalf("body = %q", d.m.Screen().Body)
	}
	if led := must[SetLED](d); led.LED != LEDOutOfService {
		t.Fatalf("led = %s", led.LED)
	}
	d.send(MaintenanceChanged{At: d.now, On: false})
	d.want(Welcome)
	if led := must[SetLED](d); led.LED != LEDIdle {
		t.Fatalf("led = %s", led.LED)
	}

	// a card inserted while a closing message is up does not start a session under maintenance
	d = newDriver(t, testConfig())
	toEnterCode(d)
	d.send(MaintenanceChanged{At: d.now, On: true})
	d.remove()
	d.want(CardRemovedScreen)
	d.insert()
	d.want(OutOfService)
}

func TestMaintenanceWaitsForUnlock(t *testing.T) {
	d := newDriver(t, testConfig())
	toUnlocking(d)
	d.send(MaintenanceChanged{At: d.now, On: true})
	d.want(Unlocking)
	d.send(CardUnblocked{At: d.now, Seq: latest[UnblockCard](d).Seq, Result: WriteDone})
	d.want(Unlocked)
	d.remove()
	d.want(OutOfService)
}

func TestRebootIsDeferred(t *testing.T) {
	d := newDriver(t, testConfig())
	d.send(RebootRequested{At: d.now})
	if count[Reboot](d.last) != 1 {
		t.Fatal("idle: reboot at once")
	}
	toChoosePasscode(d)
	if !d.m.Busy() {
		t.Fatal("busy mid-session")
	}
	d.send(RebootRequested{At: d.now})
	if count[Reboot](d.last) != 0 {
		t.Fatal("rebooted mid-session")
	}
	d.press(ButtonCancel)
	if count[Reboot](d.last) != 0 {
		t.Fatal("rebooted with the card still in")
	}
	d.remove()
	d.want(Welcome)
	if count[Reboot](d.last) != 1 {
		t.Fatal("reboot once the session is over")
	}
	d.insert()
	d.remove()
	d.advance(time.Hour)
	if count[Reboot](d.effects) != 2 {
		t.Fatal("one reboot per request")
	}
}

func TestLEDsFollowTheState(t *testing.T) {
	d := newDriver(t, testConfig())
	toUnlocking(d)
	d.send(CardUnblocked{At: d.now, Seq: latest[UnblockCard](d).Seq, Result: WriteDone})
	d.remove()
	var got []LED
	for _, e := range d.effects {
		if l, ok := e.(SetLED); ok {
			got = append(got, l.LED)
		}
	}
	want := []LED{LEDBusy, LEDSuccess, LEDIdle}
	if strings.Join(ledStrings(got), ",") != strings.Join(ledStrings(want), ",") {
		t.Fatalf("leds = %v, want %v", got, want)
	}
}

func ledStrings(ls []LED) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = string(l)
	}
	return out
}

func TestConfig(t *testing.T) {
	if _, err := New(Config{}, t0); err == nil {
		t.Fatal("an empty config is refused")
	}
	bad := testConfig()
	bad.TroubleshootingURL = "help desk"
	bad.Methods = []Method{"pigeon"}
	bad.IdleTimeout = -time.Second
	bad.MaxCodeSends = -1
	bad.PasscodeBlocklist = []string{"12a456", "605817"}
	err := bad.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, words := range []string{"troubleshooting url", "pigeon", "idle timeout", "max code sends", "entry 1"} {
		if !strings.Contains(err.Error(), words) {
			t.Errorf("%q does not mention %q", err, words)
		}
	}
	if strings.Contains(err.Error(), "605817") || strings.Contains(err.Error(), "12a456") {
		t.Error("the error repeats a blocklist entry")
	}
	good := testConfig().withDefaults()
	if good.IdleTimeout != 60*time.Second || good.CodeValidity != 15*time.Minute || good.MaxCodeSends != 3 ||
		len(good.Methods) != 2 || good.methodEnabled(MethodFace) {
		t.Fatalf("defaults = %+v", good)
	}
	cfg := testConfig()
	cfg.IdleTimeout = 5 * time.Second
	cfg.MoreTimeCountdown = 3 * time.Second
	d := newDriver(t, cfg)
	toStartNow(d)
	d.advance(5 * time.Second)
	d.want(MoreTime)
	d.advance(3 * time.Second)
	d.want(RemoveCard)
}

func TestMethodsChanged(t *testing.T) {
	d := newDriver(t, testConfig())
	enabled := func(b ButtonID) bool {
		t.Helper()
		btn, ok := d.m.Screen().Button(b)
		return ok && btn.Enabled
	}
	toChooseMethod(d)
	if !enabled(ButtonSMS) || !enabled(ButtonEmail) {
		t.Fatal("email and SMS are offered by default")
	}
	d.send(MethodsChanged{At: d.now, Methods: []Method{MethodEmail, "pigeon"}})
	if enabled(ButtonSMS) || !enabled(ButtonEmail) {
		t.Fatal("SMS still offered once the fleet disabled it")
	}
	d.press(ButtonSMS)
	d.want(ChooseMethod)
	d.send(MethodsChanged{At: d.now, Methods: nil})
	if enabled(ButtonEmail) {
		t.Fatal("an empty list offers no method")
	}
	d.send(MethodsChanged{At: d.now, Methods: []Method{MethodSMS}})
	d.press(ButtonSMS)
	d.want(EnterAddress)
}
