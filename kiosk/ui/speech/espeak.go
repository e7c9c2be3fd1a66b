package speech

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"ssu-kiosk/kiosk/flow/texts"
)

// Espeak is the Engine of Debian's espeak-ng (package espeak-ng): it runs `espeak-ng --stdout -v VOICE`
// with the text on standard input and reads the WAV it writes. A program per utterance rather than
// libespeak-ng through cgo: a voice that crashes or hangs cannot take the kiosk down, a cut utterance is
// a killed process, and the build needs no more C headers. It costs about 50-150 ms a start.
type Espeak struct {
	// Program is the espeak-ng to run ("espeak-ng" when empty).
	Program string
}

// voices are espeak-ng's voice names for the kiosk's languages.
var voices = map[texts.Lang]string{texts.English: "en-gb", texts.Welsh: "cy"}

// Synthesize speaks text in lang.
func (e Espeak) Synthesize(ctx context.Context, lang texts.Lang, text string) (Audio, error) {
	prog := e.Program
	if prog == "" {
		prog = "espeak-ng"
	}
	voice, ok := voices[lang]
	if !ok {
		voice = voices[texts.English]
	}
	cmd := exec.CommandContext(ctx, prog, "--stdout", "-v", voice)
	cmd.Stdin = strings.NewReader(text)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return Audio{}, fmt.Errorf("espeak-ng: %w (apt-get install espeak-ng)", err)
		}
		return Audio{}, fmt.Errorf("espeak-ng -v %s: %w: %s", voice, err, strings.TrimSpace(errb.String()))
	}
	return parseWAV(out.Bytes())
}

// parseWAV reads 16-bit mono PCM from a RIFF WAV as espeak-ng writes it (its data size may be a
// placeholder when writing to a pipe: the samples run to the end).
func parseWAV(b []byte) (Audio, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return Audio{}, errors.New("espeak-ng: output is not a WAV")
	}
	var a Audio
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:p+8]))
		p += 8
		switch id {
		case "fmt ":
			if p+16 > len(b) {
				return Audio{}, errors.New("espeak-ng: short fmt chunk")
			}
			channels, bits := binary.LittleEndian.Uint16(b[p+2:]), binary.LittleEndian.Uint16(b[p+14:])
			if channels != 1 || bits != 16 {
				return Audio{}, fmt.Errorf("espeak-ng: %d channels of %d bits, want 1 of 16", channels, bits)
			}
			a.Rate = int(binary.LittleEndian.Uint32(b[p+4:]))
		case "data":
			end := len(b)
			if size >= 0 && p+size <= len(b) && size > 0 {
				end = p + size
			}
			pcm := b[p:end]
			a.Samples = make([]int16, len(pcm)/2)
			for i := range a.Samples {
				a.Samples[i] = int16(binary.LittleEndian.Uint16(pcm[2*i:]))
			}
			if a.Rate == 0 {
				return Audio{}, errors.New("espeak-ng: data before fmt")
			}
			return a, nil
		}
		p += size + size%2
	}
	return Audio{}, errors.New("espeak-ng: no data in the WAV")
}
