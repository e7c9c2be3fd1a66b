package golden

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hajimehoshi/ebiten/v2"

	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/kiosk/flow/texts"
	"ssu-kiosk/kiosk/ui"
	"ssu-kiosk/kiosk/ui/uitest"
)

var update = flag.Bool("update", false, "write the golden screenshots instead of comparing")

const dir = "../../../testdata/kiosk/screens"

// Tolerance: a pixel differs when a channel is off by more than channelTolerance; a screen differs when
// more than pixelTolerance of its pixels do (anti-aliasing and font hinting vary a little across Mesa
// versions; a moved button or a changed word does not stay under it).
const (
	channelTolerance = 48
	pixelTolerance   = 0.004
)

var sizes = [][2]int{{800, 480}, {1920, 1080}}

// job is a screen to draw on the UI goroutine.
type job struct {
	sc   flow.Screen
	w, h int
	look ui.Look
	out  chan *image.RGBA
}

// renderer runs inside ebiten.RunGame on the main goroutine and draws the jobs the tests send.
type renderer struct {
	game *ui.Game
	jobs chan job
}

func (r *renderer) Update() error {
	select {
	case j, ok := <-r.jobs:
		if !ok {
			return ebiten.Termination
		}
		img := ebiten.NewImage(j.w, j.h)
		r.game.SetLook(j.look)
		r.game.ShowScreen(j.sc, j.w, j.h)
		r.game.DrawPlan(img)
		rgba := image.NewRGBA(image.Rect(0, 0, j.w, j.h))
		img.ReadPixels(rgba.Pix)
		img.Deallocate()
		j.out <- rgba
	default:
	}
	return nil
}

func (r *renderer) Draw(*ebiten.Image)         {}
func (r *renderer) Layout(int, int) (int, int) { return 320, 240 }
func (r *renderer) draw(sc flow.Screen, w, h int, look ui.Look) *image.RGBA {
	out := make(chan *image.RGBA)
	r.jobs <- job{sc, w, h, look, out}
	return <-out
}

var render *renderer

// TestMain starts a private Xvfb and runs the tests while Ebiten's loop runs on the main goroutine.
func TestMain(m *testing.M) {
	flag.Parse()
	display, stop, err := startXvfb()
	if err != nil {
		fmt.Fprintf(os.Stderr, "golden: FAIL: %v\n", err)
		os.Exit(1)
	}
	os.Setenv("DISPLAY", display)
	game, err := ui.New(ui.Options{Walkthrough: nopWalk{}, Execute: func([]flow.Effect) {},
		Now: func() time.Time { return uitest.T0 }, Place: "St Example's Hospital, Ward 7"})
	if err != nil {
		fmt.Fprintf(os.Stderr, "golden: %v\n", err)
		os.Exit(1)
	}
	render = &renderer{game: game, jobs: make(chan job)}
	code := 1
	go func() {
		code = m.Run()
		close(render.jobs)
	}()
	ebiten.SetWindowSize(320, 240)
	ebiten.SetWindowTitle("golden screenshots")
	ebiten.SetRunnableOnUnfocused(true)
	if err := ebiten.RunGame(render); err != nil {
		fmt.Fprintf(os.Stderr, "golden: ebiten: %v\n", err)
		code = 1
	}
	stop()
	os.Exit(code)
}

type nopWalk struct{}

func (nopWalk) Handle(flow.Event) []flow.Effect { return nil }
func (nopWalk) Screen() flow.Screen             { return flow.Screen{} }

func startXvfb() (string, func(), error) {
	if _, err := exec.LookPath("Xvfb"); err != nil {
		return "", nil, fmt.Errorf("Xvfb not found: apt-get install xvfb libgl1 libgl1-mesa-dri")
	}
	r, w, err := os.Pipe()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1920x1080x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	w.Close()
	line, err := bufio.NewReader(r).ReadString('\n')
	r.Close()
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("Xvfb did not start: %v", err)
	}
	return ":" + strings.TrimSpace(line), stop, nil
}

// ways are the languages and looks drawn, each into its own folder: "800x480" (English), "800x480-cy"
// (Welsh), "800x480-large" (English, larger text) and "800x480-cy-large".
var ways = []struct {
	suffix string
	lang   texts.Lang
	look   ui.Look
}{
	{"", texts.English, ui.Look{}},
	{"-cy", texts.Welsh, ui.Look{}},
	{"-large", texts.English, ui.Look{Large: true}},
	{"-cy-large", texts.Welsh, ui.Look{Large: true}},
}

// TestGolden draws every screen at both sizes, in each language and look, and compares it with its
// golden PNG.
func TestGolden(t *testing.T) {
	for _, wy := range ways {
		screens := uitest.ScreensIn(wy.lang)
		for _, sz := range sizes {
			sub := filepath.Join(dir, fmt.Sprintf("%dx%d%s", sz[0], sz[1], wy.suffix))
			if *update {
				if err := os.MkdirAll(sub, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, s := range screens {
				got := render.draw(s.Screen, sz[0], sz[1], wy.look)
				path := filepath.Join(sub, s.Name+".png")
				if *update {
					var buf bytes.Buffer
					enc := png.Encoder{CompressionLevel: png.BestCompression}
					if err := enc.Encode(&buf, got); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				f, err := os.Open(path)
				if err != nil {
					t.Errorf("%v: regenerate with: go test ./kiosk/ui/golden -run TestGolden -update", err)
					continue
				}
				want, err := png.Decode(f)
				f.Close()
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				if frac := differs(got, want); frac > pixelTolerance {
					out := filepath.Join(t.TempDir(), s.Name+".png")
					if fo, err := os.Create(out); err == nil {
						_ = png.Encode(fo, got)
						fo.Close()
					}
					t.Errorf("%dx%d %s: %.2f%% of pixels differ from %s (drawn: %s)", sz[0], sz[1], s.Name, 100*frac, path, out)
				}
			}
		}
	}
}

// differs is the fraction of pixels that differ by more than channelTolerance (1 when the sizes differ).
func differs(a *image.RGBA, b image.Image) float64 {
	if a.Bounds() != b.Bounds() {
		return 1
	}
	want, ok := b.(*image.RGBA)
	if !ok {
		want = image.NewRGBA(b.Bounds())
		draw.Draw(want, want.Bounds(), b, b.Bounds().Min, draw.Src)
	}
	n := 0
	for i := 0; i+3 < len(a.Pix); i += 4 {
		if off(a.Pix[i], want.Pix[i]) || off(a.Pix[i+1], want.Pix[i+1]) || off(a.Pix[i+2], want.Pix[i+2]) {
			n++
		}
	}
	return float64(n) / float64(len(a.Pix)/4)
}

func off(x, y uint8) bool {
	if x > y {
		return x-y > channelTolerance
	}
	return y-x > channelTolerance
}
