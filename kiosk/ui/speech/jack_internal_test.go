package speech

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

func inputEvent(typ, code uint16, value uint32) []byte {
	b := make([]byte, inputEventSize)
	binary.LittleEndian.PutUint16(b[16:], typ)
	binary.LittleEndian.PutUint16(b[18:], code)
	binary.LittleEndian.PutUint32(b[20:], value)
	return b
}

// The kernel's switch events become plugged and pulled; other events are ignored.
func TestReadSwitch(t *testing.T) {
	var in bytes.Buffer
	in.Write(inputEvent(evSW, swHeadphoneInsert, 1))
	in.Write(inputEvent(0, 0, 0)) // EV_SYN
	in.Write(inputEvent(evSW, 0x04, 1))
	in.Write(inputEvent(evSW, swHeadphoneInsert, 0))
	ch := make(chan bool, 4)
	if err := readSwitch(context.Background(), &in, ch); err != nil {
		t.Fatal(err)
	}
	close(ch)
	var got []bool
	for v := range ch {
		got = append(got, v)
	}
	if len(got) != 2 || !got[0] || got[1] {
		t.Fatalf("got %v, want plugged then pulled", got)
	}
}

func TestFindJack(t *testing.T) {
	sys := t.TempDir()
	for ev, name := range map[string]string{"event3": "AT Translated Set 2 keyboard", "event7": "HDA Intel PCH Headphone"} {
		d := filepath.Join(sys, "class/input", ev, "device")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "name"), []byte(name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	j, err := FindJack(sys)
	if err != nil || j.Path != "/dev/input/event7" {
		t.Fatalf("FindJack: %+v, %v", j, err)
	}
	if _, err := FindJack(t.TempDir()); err == nil {
		t.Fatal("a machine with no jack detection has a jack")
	}
}
