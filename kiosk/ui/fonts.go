package ui

import (
	"bytes"
	_ "embed"
	"fmt"
	"sync"

	"github.com/hajimehoshi/ebiten/v2/text/v2"
)

// DejaVu Sans 2.37 from Debian's fonts-dejavu-core (free licence: fonts/LICENSE).
var (
	//go:embed fonts/DejaVuSans.ttf
	regularTTF []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	boldTTF []byte
)

// Fonts holds the two embedded faces and caches sized faces. It implements Measurer, with no GPU needed.
type Fonts struct {
	regular, bold *text.GoTextFaceSource

	mu    sync.Mutex
	faces map[faceKey]*text.GoTextFace
}

type faceKey struct {
	size float64
	bold bool
}

// LoadFonts parses the embedded fonts.
func LoadFonts() (*Fonts, error) {
	r, err := text.NewGoTextFaceSource(bytes.NewReader(regularTTF))
	if err != nil {
		return nil, fmt.Errorf("load font: %w", err)
	}
	b, err := text.NewGoTextFaceSource(bytes.NewReader(boldTTF))
	if err != nil {
		return nil, fmt.Errorf("load bold font: %w", err)
	}
	return &Fonts{regular: r, bold: b, faces: map[faceKey]*text.GoTextFace{}}, nil
}

// Face returns the face at size pixels.
func (f *Fonts) Face(size float64, bold bool) *text.GoTextFace {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := faceKey{size, bold}
	if face, ok := f.faces[k]; ok {
		return face
	}
	src := f.regular
	if bold {
		src = f.bold
	}
	face := &text.GoTextFace{Source: src, Size: size}
	if len(f.faces) > 256 {
		clear(f.faces) // sizes change only with the window size
	}
	f.faces[k] = face
	return face
}

// Advance is the width of s at size pixels.
func (f *Fonts) Advance(s string, size float64, bold bool) float64 {
	return text.Advance(s, f.Face(size, bold))
}
