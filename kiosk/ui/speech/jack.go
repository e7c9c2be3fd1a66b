package speech

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Jack reports a headset plugged in (true) or pulled out (false), starting with the present state; the
// channel closes when ctx ends or the jack can no longer be read.
type Jack interface {
	Watch(ctx context.Context) <-chan bool
}

// Linux input constants (linux/input-event-codes.h).
const (
	evSW              = 0x05
	swHeadphoneInsert = 0x02
	inputEventSize    = 24 // struct input_event on 64-bit: timeval (16), type, code (2+2), value (4)
)

// EvdevJack is the sound card's jack detection as the kernel's input layer reports it: the ALSA HDA
// driver makes an input device named like "HDA Intel PCH Headphone" whose SW_HEADPHONE_INSERT switch
// follows the socket. FindJack finds it.
type EvdevJack struct {
	Path string // /dev/input/eventN
	Log  *slog.Logger
}

// FindJack returns the headphone jack's input device, or an error when this machine has none (no jack
// detection: speech is then turned on with the speech key only).
func FindJack(sysfs string) (EvdevJack, error) {
	if sysfs == "" {
		sysfs = "/sys"
	}
	names, _ := filepath.Glob(filepath.Join(sysfs, "class/input/event*/device/name"))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			continue
		}
		name := strings.ToLower(string(b))
		if strings.Contains(name, "headphone") || strings.Contains(name, "headset") {
			ev := filepath.Base(filepath.Dir(filepath.Dir(n)))
			return EvdevJack{Path: "/dev/input/" + ev}, nil
		}
	}
	return EvdevJack{}, errors.New("no headphone jack detection on this machine")
}

// Watch reads the jack's switch until ctx ends.
func (j EvdevJack) Watch(ctx context.Context) <-chan bool {
	ch := make(chan bool, 4)
	log := j.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f, err := os.Open(j.Path)
	if err != nil {
		log.Warn("headphone jack", "err", err)
		close(ch)
		return ch
	}
	if plugged, err := switchState(f); err == nil {
		ch <- plugged
	} else {
		log.Warn("headphone jack state", "err", err)
	}
	go func() {
		<-ctx.Done()
		f.Close() // ends the read below
	}()
	go func() {
		defer close(ch)
		if err := readSwitch(ctx, f, ch); err != nil && ctx.Err() == nil {
			log.Warn("headphone jack", "err", err)
		}
	}()
	return ch
}

// switchState asks the kernel for the switch's present state (EVIOCGSW).
func switchState(f *os.File) (bool, error) {
	var bits [8]byte
	req := uintptr(2<<30 | uintptr(len(bits))<<16 | 'E'<<8 | 0x1b) // _IOC(_IOC_READ, 'E', 0x1b, len)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), req, uintptr(unsafe.Pointer(&bits[0]))); e != 0 {
		return false, fmt.Errorf("EVIOCGSW: %w", e)
	}
	return bits[swHeadphoneInsert/8]&(1<<(swHeadphoneInsert%8)) != 0, nil
}

// readSwitch turns input events into plugged/pulled until r ends.
func readSwitch(ctx context.Context, r io.Reader, ch chan<- bool) error {
	var ev [inputEventSize]byte
	for {
		if _, err := io.ReadFull(r, ev[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
		typ, code := binary.LittleEndian.Uint16(ev[16:]), binary.LittleEndian.Uint16(ev[18:])
		if typ != evSW || code != swHeadphoneInsert {
			continue
		}
		select {
		case ch <- binary.LittleEndian.Uint32(ev[20:]) != 0:
		case <-ctx.Done():
			return nil
		}
	}
}
