package led_test

import (
	"encoding/json"
	"testing"

	"ssu-kiosk/hal/led"
)

func TestPatternNames(t *testing.T) {
	want := map[led.Pattern]string{
		led.Off:          "off",
		led.Idle:         "idle",
		led.Busy:         "busy",
		led.Success:      "success",
		led.Error:        "error",
		led.OutOfService: "out-of-service",
		led.Identify:     "identify",
	}
	for p, name := range want {
		if got := p.String(); got != name {
			t.Errorf("%d.String() = %q, want %q", p, got, name)
		}
		back, err := led.ParsePattern(name)
		if err != nil || back != p {
			t.Errorf("ParsePattern(%q) = %v, %v; want %v", name, back, err, p)
		}
	}
	if got := led.Pattern(99).String(); got != "pattern(99)" {
		t.Errorf("Pattern(99).String() = %q", got)
	}
	if led.Pattern(99).Valid() {
		t.Error("Pattern(99) is valid")
	}
	for _, bad := range []string{"", "Idle", "outofservice", "blink"} {
		if _, err := led.ParsePattern(bad); err == nil {
			t.Errorf("ParsePattern(%q) accepted", bad)
		}
	}
}

func TestPatternJSON(t *testing.T) {
	type health struct {
		LED led.Pattern `json:"led"`
	}
	b, err := json.Marshal(health{LED: led.OutOfService})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"led":"out-of-service"}` {
		t.Fatalf("marshal: %s", b)
	}
	var h health
	if err := json.Unmarshal([]byte(`{"led":"busy"}`), &h); err != nil || h.LED != led.Busy {
		t.Fatalf("unmarshal: %v, %v", h.LED, err)
	}
	if err := json.Unmarshal([]byte(`{"led":"disco"}`), &h); err == nil {
		t.Fatal("unmarshal accepted an unknown pattern")
	}
	if h.LED != led.Busy {
		t.Fatalf("a failed unmarshal changed the pattern to %v", h.LED)
	}
	if _, err := json.Marshal(health{LED: led.Pattern(42)}); err == nil {
		t.Fatal("marshal accepted an unknown pattern")
	}
}
