package speech

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ebitengine/oto/v3"
)

// Oto is the Output to the sound card through github.com/ebitengine/oto/v3 (PulseAudio when a server
// runs, otherwise ALSA's default device, so an ALSA configuration can send it to a file in tests). The
// device is opened on the first Play, at Rate, and suspended between utterances so an idle kiosk does
// not keep feeding it silence. When there is no audio device Play fails and the kiosk stays silent.
//
// Ebiten's own audio package is not used: its context polls its players every 10 ms for the life of the
// process (an idle kiosk would wake 100 times a second) and its errors end the game loop.
type Oto struct {
	Rate int // samples a second (22050, espeak-ng's, when 0)

	once sync.Once
	ctx  *oto.Context
	err  error
}

func (o *Oto) open() error {
	o.once.Do(func() {
		if o.Rate == 0 {
			o.Rate = 22050
		}
		ctx, ready, err := oto.NewContext(&oto.NewContextOptions{SampleRate: o.Rate, ChannelCount: 1,
			Format: oto.FormatSignedInt16LE, BufferSize: 100 * time.Millisecond, ApplicationName: "ssu-kiosk"})
		if err != nil {
			o.err = fmt.Errorf("audio output: %w", err)
			return
		}
		<-ready
		if err := ctx.Err(); err != nil {
			o.err = fmt.Errorf("audio output: %w", err)
			return
		}
		o.ctx = ctx
		if err := ctx.Suspend(); err != nil {
			o.err = fmt.Errorf("audio output: suspend: %w", err)
		}
	})
	return o.err
}

// Play plays a (resampled if its rate differs) and returns when it has been played or ctx ended.
func (o *Oto) Play(ctx context.Context, a Audio, volume float64) error {
	if err := o.open(); err != nil {
		return err
	}
	if a.Rate != o.Rate {
		a = resample(a, o.Rate)
	}
	var buf bytes.Buffer
	_ = binary.Write(&buf, binary.LittleEndian, a.Samples)
	if err := o.ctx.Resume(); err != nil {
		return fmt.Errorf("audio output: resume: %w", err)
	}
	defer func() { _ = o.ctx.Suspend() }()
	p := o.ctx.NewPlayer(&buf)
	defer p.Close()
	p.SetVolume(volume)
	p.Play()
	// Poll while sound plays only (an idle kiosk plays nothing): oto has no "finished" signal.
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for p.IsPlaying() {
		select {
		case <-ctx.Done():
			p.Pause()
			return nil
		case <-t.C:
		}
		if err := o.ctx.Err(); err != nil {
			return fmt.Errorf("audio output: %w", err)
		}
	}
	if err := p.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("audio output: %w", err)
	}
	return nil
}

// resample converts a to rate by linear interpolation (tones and voices only; quality is not critical).
func resample(a Audio, rate int) Audio {
	if a.Rate <= 0 || len(a.Samples) == 0 {
		return Audio{Rate: rate}
	}
	n := int(int64(len(a.Samples)) * int64(rate) / int64(a.Rate))
	out := Audio{Samples: make([]int16, n), Rate: rate}
	for i := range n {
		x := float64(i) * float64(a.Rate) / float64(rate)
		j := int(x)
		f := x - float64(j)
		s0 := float64(a.Samples[min(j, len(a.Samples)-1)])
		s1 := float64(a.Samples[min(j+1, len(a.Samples)-1)])
		out.Samples[i] = int16(s0 + (s1-s0)*f)
	}
	return out
}
