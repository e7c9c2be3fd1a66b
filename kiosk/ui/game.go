package ui

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"log/slog"
	"math"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/inpututil"
	"github.com/hajimehoshi/ebiten/v2/text/v2"
	"github.com/hajimehoshi/ebiten/v2/vector"
	"rsc.io/qr"

	"ssu-kiosk/kiosk/flow"
)

// Walkthrough is what the UI drives: flow.Machine.
type Walkthrough interface {
	Handle(flow.Event) []flow.Effect
	Screen() flow.Screen
}

// Options configure a Game.
type Options struct {
	Walkthrough Walkthrough
	// Inbox brings the runner's events (card, service, clock); Update drains it without blocking.
	Inbox <-chan flow.Event
	// Execute hands effects to the runner; it must not block.
	Execute func([]flow.Effect)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Place is shown in the header: site and ward.
	Place string
	Log   *slog.Logger
	// FirstFrame is called once, from the UI loop, after the first frame was drawn and presented.
	FirstFrame func()
	// Heartbeat is called from every Update: the systemd watchdog is pinged from here.
	Heartbeat func()
	// Clock, when set, is told whenever the walk-through starts or stops needing the clock (a walkthrough
	// with a NeedsClock method, as flow.Machine has): the runner sends Tick events only while it does, so
	// an idle kiosk is not woken every second.
	Clock func(on bool)
	// Demo receives F2 and F3; nil outside demo mode, where those keys do nothing.
	Demo func(DemoKey)
	// Fonts, when nil, are loaded from the embedded files.
	Fonts *Fonts
	// Done ends the game (ebiten.Termination) when closed: the process is stopping.
	Done <-chan struct{}
	// Speech, when set, is given every screen's spoken form and the speech keys (see speak.go).
	Speech Speaker
}

// Game is the kiosk's ebiten.Game.
type Game struct {
	opts  Options
	fonts *Fonts
	log   *slog.Logger

	screen    flow.Screen
	plan      Plan
	w, h      int
	focus     Target
	look      Look // the person's choice of text size, kept across screens until the kiosk is idle again
	dirty     bool
	drawn     bool
	readyDone bool
	spinning  atomic.Bool
	following atomic.Bool // a follow-up frame after input is due
	cardAt    time.Time   // when the last card insertion was reported, until the next screen is drawn
	clockOn   int         // what Clock was last told: 0 nothing yet, 1 off, 2 on
	heard     heard       // what speech last said something about
	// speechKeyAt is when the speech key went down (zero when it is up or was handled).
	speechKeyAt   time.Time
	speechKeyDone bool
	qrCache       map[string]*ebiten.Image
}

// New checks opts and returns a Game showing the walk-through's current screen.
func New(opts Options) (*Game, error) {
	if opts.Walkthrough == nil || opts.Execute == nil {
		return nil, errors.New("ui: a walkthrough and an executor are needed")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Heartbeat == nil {
		opts.Heartbeat = func() {}
	}
	if opts.FirstFrame == nil {
		opts.FirstFrame = func() {}
	}
	fonts := opts.Fonts
	if fonts == nil {
		var err error
		if fonts, err = LoadFonts(); err != nil {
			return nil, err
		}
	}
	return &Game{opts: opts, fonts: fonts, log: opts.Log, w: 800, h: 480, qrCache: map[string]*ebiten.Image{}}, nil
}

// RunOptions say how the window is shown.
type RunOptions struct {
	Fullscreen bool
	// Width and Height size the window when not full screen.
	Width, Height int
	HideCursor    bool
}

// Run opens the window and runs the game until the process ends; call it from the main goroutine.
// The window cannot be closed by the person (Alt+F4 or the close button do nothing) and only redraws
// when something changes.
func Run(g *Game, ro RunOptions) error {
	ebiten.SetWindowTitle("Smartcard self-service")
	if ro.Width <= 0 || ro.Height <= 0 {
		ro.Width, ro.Height = 800, 480
	}
	ebiten.SetWindowSize(ro.Width, ro.Height)
	ebiten.SetWindowResizingMode(ebiten.WindowResizingModeEnabled)
	ebiten.SetFullscreen(ro.Fullscreen)
	ebiten.SetWindowClosingHandled(true) // a close request is never honoured
	if ro.HideCursor {
		ebiten.SetCursorMode(ebiten.CursorModeHidden)
	}
	ebiten.SetRunnableOnUnfocused(true)
	ebiten.SetScreenClearedEveryFrame(false)
	//lint:ignore SA1019 FPSModeVsyncOffMinimum is deprecated but implemented in v2.10.4: it gives 0 % idle CPU.
	ebiten.SetFPSMode(ebiten.FPSModeVsyncOffMinimum) //nolint:staticcheck
	return ebiten.RunGame(g)
}

// Wake asks for an Update and a Draw soon; safe from any goroutine.
func Wake() { ebiten.ScheduleFrame() } //nolint:staticcheck

// Update drains the runner's events, applies the person's input and refreshes the plan.
func (g *Game) Update() error {
	select {
	case <-g.opts.Done:
		return ebiten.Termination
	default:
	}
	now := g.opts.Now()
	g.opts.Heartbeat()
	if g.drawn && !g.readyDone {
		g.readyDone = true
		g.opts.FirstFrame()
	}
	_ = ebiten.IsWindowBeingClosed() // handled: ignored on purpose
drain:
	for {
		select {
		case ev := <-g.opts.Inbox:
			g.handle(ev)
		default:
			break drain
		}
	}
	in := collectInput()
	g.logInput(in)
	g.frame(in, now)
	g.followInput(in)
	if g.screen.Busy {
		g.dirty = true // the spinner turns
		if g.spinning.CompareAndSwap(false, true) {
			time.AfterFunc(100*time.Millisecond, func() { g.spinning.Store(false); Wake() })
		}
	}
	return nil
}

// followInput asks for another frame shortly after any input, and while a key or button is held: GLFW
// can take an X event (a key let go) during a busy frame without waking the loop again, and an idle kiosk
// has no clock tick that would notice it later. Once the person stops, the loop sleeps again.
func (g *Game) followInput(in Input) {
	active := len(in.Keys) > 0 || len(in.Chars) > 0 || len(in.Touches) > 0 ||
		len(inpututil.AppendPressedKeys(nil)) > 0 || len(inpututil.AppendJustReleasedKeys(nil)) > 0 ||
		ebiten.IsMouseButtonPressed(ebiten.MouseButtonLeft) || inpututil.IsMouseButtonJustReleased(ebiten.MouseButtonLeft) ||
		len(ebiten.AppendTouchIDs(nil)) > 0
	if active && g.following.CompareAndSwap(false, true) {
		time.AfterFunc(50*time.Millisecond, func() { g.following.Store(false); Wake() })
	}
}

// frame applies the person's input and follows the walk-through's screen: the part of Update that needs
// no display (tests drive it directly).
func (g *Game) frame(in Input, now time.Time) {
	for _, ev := range g.apply(in, now) {
		g.handle(ev)
	}
	g.speechKeys(in, now)
	g.refresh()
	g.tellClock()
	g.speak()
}

// clockUser is a walkthrough that says when it has something to count down (flow.Machine).
type clockUser interface{ NeedsClock() bool }

// tellClock tells Options.Clock when the walk-through's need for the clock changed.
func (g *Game) tellClock() {
	c, ok := g.opts.Walkthrough.(clockUser)
	if !ok || g.opts.Clock == nil {
		return
	}
	want := 1
	if c.NeedsClock() {
		want = 2
	}
	if want != g.clockOn {
		g.clockOn = want
		g.opts.Clock(want == 2)
	}
}

// logInput logs, at debug level, each tap and each control key (Enter, Tab, Escape, Backspace, F-keys)
// as it is pressed and as it is released. Ebiten reads buttons and keys as states once a frame, so a press
// and release that both fall between two frames are never seen: end-to-end tests hold a button until its
// "pressed" line and press the next only after its "released" line. It never says where a tap landed or
// which character key was pressed, since that would spell out a passcode typed on the keypad.
func (g *Game) logInput(in Input) {
	if !g.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	for range in.Touches {
		g.log.Debug("pressed", "what", "tap")
	}
	if inpututil.IsMouseButtonJustReleased(ebiten.MouseButtonLeft) {
		g.log.Debug("released", "what", "tap")
	}
	for range inpututil.AppendJustReleasedTouchIDs(nil) {
		g.log.Debug("released", "what", "tap")
	}
	for _, k := range in.Keys {
		if controlKey(k) {
			g.log.Debug("pressed", "what", "key", "key", k.String())
		}
	}
	for _, k := range inpututil.AppendJustReleasedKeys(nil) {
		if controlKey(k) {
			g.log.Debug("released", "what", "key", "key", k.String())
		}
	}
}

// controlKey reports whether k types no character.
func controlKey(k ebiten.Key) bool {
	switch k {
	case ebiten.KeyEnter, ebiten.KeyNumpadEnter, ebiten.KeyTab, ebiten.KeyEscape, ebiten.KeyBackspace:
		return true
	}
	return k >= ebiten.KeyF1 && k <= ebiten.KeyF12
}

func (g *Game) handle(ev flow.Event) {
	if ci, ok := ev.(flow.CardInserted); ok {
		g.cardAt = ci.At
	}
	if effects := g.opts.Walkthrough.Handle(ev); len(effects) > 0 {
		g.opts.Execute(effects)
	}
}

// refresh re-lays out the screen when the model or the window size changed.
func (g *Game) refresh() {
	sc := g.opts.Walkthrough.Screen()
	if sc.ID == flow.Welcome && g.screen.ID != flow.Welcome && g.screen.ID != "" {
		g.look = Look{} // the session is over: the next person starts with the standard look
	}
	if reflect.DeepEqual(sc, g.screen) && g.plan.Width == g.w && g.plan.Height == g.h && g.plan.Look == g.look {
		return
	}
	changedID := sc.ID != g.screen.ID
	oldFocus := g.screen.Focus
	g.screen = sc
	g.plan = LayoutLook(sc, g.w, g.h, g.fonts, g.opts.Place, g.look)
	g.dirty = true
	if changedID {
		g.focus = Target{}
		g.log.Info("screen", "id", sc.ID, "led", sc.LED)
		if g.log.Enabled(context.Background(), slog.LevelDebug) {
			g.log.Debug("targets", "id", sc.ID, "size", fmt.Sprintf("%dx%d", g.w, g.h), "targets", g.TargetsText())
		}
	}
	if _, ok := g.plan.Find(g.focus); !ok && g.focus.Kind != TargetNone {
		g.focus = Target{}
	}
	if sc.Focus != "" && (changedID || sc.Focus != oldFocus) && (g.focus.Kind != TargetButton || changedID) {
		g.focus = Target{Kind: TargetField, Field: sc.Focus}
	}
}

// TargetsText lists the current screen's touch targets and their centres, "button:start@400,300 …",
// for debug logs that end-to-end tests read to click like a person would.
func (g *Game) TargetsText() string {
	var b strings.Builder
	for i, it := range g.plan.Targets() {
		if i > 0 {
			b.WriteByte(' ')
		}
		x, y := it.Rect.Center()
		fmt.Fprintf(&b, "%s@%d,%d", strings.ReplaceAll(it.Target.String(), " ", "_"), int(x), int(y))
	}
	return b.String()
}

// Layout lays the screen out at the window's size in pixels.
func (g *Game) Layout(outsideWidth, outsideHeight int) (int, int) {
	if outsideWidth != g.w || outsideHeight != g.h {
		g.w, g.h = outsideWidth, outsideHeight
		g.dirty = true
	}
	return outsideWidth, outsideHeight
}

// Draw paints the plan; it returns at once when nothing changed (the screen is not cleared every frame).
func (g *Game) Draw(screen *ebiten.Image) {
	if !g.dirty && g.drawn {
		return
	}
	if g.plan.Width != g.w || g.plan.Height != g.h {
		g.refresh()
	}
	g.DrawPlan(screen)
	g.dirty = false
	if !g.drawn {
		g.drawn = true
		// So Update reports the first frame (and systemd hears READY=1) once it is on screen. A wake-up
		// posted while the loop is busy can be lost, and nothing else wakes an idle kiosk: ask again later.
		Wake()
		time.AfterFunc(30*time.Millisecond, Wake)
		time.AfterFunc(300*time.Millisecond, Wake)
	}
	if !g.cardAt.IsZero() && g.screen.ID != flow.Welcome {
		g.log.Info("card to screen", "id", g.screen.ID, "ms", float64(time.Since(g.cardAt).Microseconds())/1000)
		g.cardAt = time.Time{}
	}
}

// DrawPlan paints the current plan onto dst, whatever changed.
func (g *Game) DrawPlan(dst *ebiten.Image) {
	dst.Fill(NHSWhite)
	for _, it := range g.plan.Items {
		g.drawItem(dst, it)
	}
	if it, ok := g.plan.Find(g.focus); ok && g.focus.Kind != TargetNone {
		drawFocus(dst, it.Rect, g.plan.Scale)
	}
}

// ShowScreen sets the screen to draw directly (golden screenshots and benchmarks), with the focus flow gives.
func (g *Game) ShowScreen(sc flow.Screen, w, h int) {
	g.w, g.h = w, h
	g.screen = sc
	g.plan = LayoutLook(sc, w, h, g.fonts, g.opts.Place, g.look)
	g.focus = Target{}
	if sc.Focus != "" {
		g.focus = Target{Kind: TargetField, Field: sc.Focus}
	}
}

// SetLook sets the look ShowScreen lays screens out in (golden screenshots).
func (g *Game) SetLook(l Look) { g.look = l }

func collectInput() Input {
	var in Input
	in.Chars = ebiten.AppendInputChars(nil)
	in.Ctrl = ebiten.IsKeyPressed(ebiten.KeyControl)
	in.Alt = ebiten.IsKeyPressed(ebiten.KeyAlt)
	in.Shift = ebiten.IsKeyPressed(ebiten.KeyShift)
	in.Keys = inpututil.AppendJustPressedKeys(nil)
	in.SpeechKeyHeld = ebiten.IsKeyPressed(SpeechKey)
	if k := ebiten.KeyBackspace; ebiten.IsKeyPressed(k) {
		if d := inpututil.KeyPressDuration(k); d > 30 && d%4 == 0 { // held: repeat
			in.Keys = append(in.Keys, k)
		}
	}
	if inpututil.IsMouseButtonJustPressed(ebiten.MouseButtonLeft) {
		x, y := ebiten.CursorPosition()
		in.Touches = append(in.Touches, [2]float64{float64(x), float64(y)})
	}
	for _, id := range inpututil.AppendJustPressedTouchIDs(nil) {
		x, y := ebiten.TouchPosition(id)
		in.Touches = append(in.Touches, [2]float64{float64(x), float64(y)})
	}
	return in
}

// ---- drawing ----

func fill(dst *ebiten.Image, r Rect, c color.Color) {
	vector.FillRect(dst, float32(r.X), float32(r.Y), float32(r.W), float32(r.H), c, false)
}

func stroke(dst *ebiten.Image, r Rect, width float64, c color.Color) {
	vector.StrokeRect(dst, float32(r.X+width/2), float32(r.Y+width/2), float32(r.W-width), float32(r.H-width), float32(width), c, false)
}

func (g *Game) drawText(dst *ebiten.Image, s string, x, y, size float64, bold bool, c color.Color) {
	face := g.fonts.Face(size, bold)
	op := &text.DrawOptions{}
	op.GeoM.Translate(math.Round(x), math.Round(y))
	op.ColorScale.ScaleWithColor(c)
	text.Draw(dst, s, face, op)
}

// lineTop centres a line of text of size in a box of height h starting at y.
func (g *Game) lineTop(y, h, size float64, bold bool) float64 {
	m := g.fonts.Face(size, bold).Metrics()
	return y + (h-(m.HAscent+m.HDescent))/2
}

func (g *Game) drawItem(dst *ebiten.Image, it Item) {
	u := g.plan.Scale
	switch it.Kind {
	case ItemHeader, ItemPanel:
		fill(dst, it.Rect, it.Color)
	case ItemText:
		for i, l := range it.Lines {
			y := g.lineTop(it.Rect.Y+float64(i)*it.LineHeight, it.LineHeight, it.Size, it.Bold)
			g.drawText(dst, l, it.Rect.X, y, it.Size, it.Bold, it.Color)
		}
	case ItemButton:
		r := it.Rect
		body := Rect{r.X, r.Y, r.W, r.H - 4*u}
		shadow := NHSText
		if it.Primary && it.Enabled {
			shadow = NHSDarkGreen
		}
		if !it.Enabled {
			shadow = NHSKeyShadow
		}
		fill(dst, Rect{r.X, r.Y + 4*u, r.W, r.H - 4*u}, shadow)
		fill(dst, body, it.Color)
		tc := color.Color(NHSWhite)
		if !it.Enabled {
			tc = NHSDarkGrey
		}
		label := it.Lines[0]
		tw := g.fonts.Advance(label, it.Size, true)
		g.drawText(dst, label, r.X+(r.W-tw)/2, g.lineTop(body.Y, body.H, it.Size, true), it.Size, true, tc)
	case ItemKey:
		r := it.Rect
		fill(dst, Rect{r.X, r.Y + 3*u, r.W, r.H - 3*u}, NHSKeyShadow)
		body := Rect{r.X, r.Y, r.W, r.H - 3*u}
		fill(dst, body, NHSGrey5)
		stroke(dst, body, max(1, u), NHSSecondary)
		label := it.Lines[0]
		tw := g.fonts.Advance(label, it.Size, true)
		g.drawText(dst, label, r.X+(r.W-tw)/2, g.lineTop(body.Y, body.H, it.Size, true), it.Size, true, NHSText)
	case ItemField:
		g.drawField(dst, it)
	case ItemQR:
		g.drawQR(dst, it)
	case ItemCardArt:
		drawCardArt(dst, it.Rect, u)
	case ItemSpinner:
		cx, cy := it.Rect.Center()
		rad := it.Rect.W / 2 * 0.8
		phase := int(g.opts.Now().UnixMilli()/100) % 8
		for i := range 8 {
			a := float64(i) * math.Pi / 4
			c := NHSGrey4
			if i == phase || i == (phase+7)%8 {
				c = it.Color
			}
			vector.FillCircle(dst, float32(cx+rad*math.Cos(a)), float32(cy+rad*math.Sin(a)), float32(it.Rect.W/10), c, true)
		}
	}
}

func (g *Game) drawField(dst *ebiten.Image, it Item) {
	u := g.plan.Scale
	r := it.Rect
	fill(dst, r, NHSWhite)
	border, bw := NHSSecondary, 2*u
	if it.Field.Error != "" {
		border, bw = NHSRed, 4*u
	}
	stroke(dst, r, bw, border)
	f := it.Field
	s := f.Value
	if f.Masked {
		s = strings.Repeat("●", f.Length)
	}
	size := it.Size
	pad := 12 * u
	for s != "" && g.fonts.Advance(s, size, false) > r.W-2*pad-4*u { // show the end of a long address
		s = s[1:]
	}
	y := g.lineTop(r.Y, r.H, size, false)
	g.drawText(dst, s, r.X+pad, y, size, false, NHSText)
	if g.focus.Kind == TargetField && g.focus.Field == f.ID {
		cx := r.X + pad + g.fonts.Advance(s, size, false) + 2*u
		fill(dst, Rect{cx, r.Y + 10*u, 2 * u, r.H - 20*u}, NHSText)
	}
}

func (g *Game) drawQR(dst *ebiten.Image, it Item) {
	key := fmt.Sprintf("%s@%d", it.QR, int(it.Rect.W))
	img, ok := g.qrCache[key]
	if !ok {
		code, err := qr.Encode(it.QR, qr.M)
		if err != nil {
			g.log.Warn("qr code", "err", err)
			return
		}
		n := code.Size + 8 // a quiet zone of 4 modules each side
		side := int(it.Rect.W)
		img = ebiten.NewImage(side, side)
		img.Fill(NHSWhite)
		m := float64(side) / float64(n)
		for y := 0; y < code.Size; y++ {
			for x := 0; x < code.Size; x++ {
				if code.Black(x, y) {
					x0, y0 := math.Floor(float64(x+4)*m), math.Floor(float64(y+4)*m)
					x1, y1 := math.Floor(float64(x+5)*m), math.Floor(float64(y+5)*m)
					fill(img, Rect{x0, y0, x1 - x0, y1 - y0}, color.Black)
				}
			}
		}
		g.qrCache[key] = img
	}
	op := &ebiten.DrawImageOptions{}
	op.GeoM.Translate(math.Round(it.Rect.X), math.Round(it.Rect.Y))
	dst.DrawImage(img, op)
}

// drawFocus draws the NHS focus style: a yellow ring with a dark inner ring, visible on any background.
func drawFocus(dst *ebiten.Image, r Rect, u float64) {
	o := focusRing * u
	stroke(dst, Rect{r.X - o, r.Y - o, r.W + 2*o, r.H + 2*o}, o, NHSYellow)
	stroke(dst, r, 2*u, NHSText)
}

// drawCardArt draws a smartcard, chip first, above a reader slot, with an arrow: "put it in here".
func drawCardArt(dst *ebiten.Image, r Rect, u float64) {
	ch := r.H * 0.5
	cw := ch * 0.63 // an ID-1 card, upright
	cx := r.X + (r.W-cw)/2
	cy := r.Y
	fill(dst, Rect{cx, cy, cw, ch}, NHSBlue)
	stroke(dst, Rect{cx, cy, cw, ch}, 2*u, NHSText)
	chipW, chipH := cw*0.3, ch*0.16
	chip := Rect{cx + cw/2 - chipW/2, cy + ch - chipH - ch*0.12, chipW, chipH}
	fill(dst, chip, color.RGBA{0xff, 0xb8, 0x1c, 0xff})
	stroke(dst, chip, max(1, u), NHSText)
	// arrow down
	ax := float32(r.X + r.W/2)
	ay0, ay1 := float32(cy+ch+r.H*0.05), float32(cy+ch+r.H*0.25)
	vector.StrokeLine(dst, ax, ay0, ax, ay1, float32(4*u), NHSText, true)
	hw := float32(12 * u)
	vector.StrokeLine(dst, ax-hw, ay1-hw, ax, ay1, float32(4*u), NHSText, true)
	vector.StrokeLine(dst, ax+hw, ay1-hw, ax, ay1, float32(4*u), NHSText, true)
	// reader
	rw, rh := r.W*0.6, r.H*0.16
	rd := Rect{r.X + (r.W-rw)/2, r.Y + r.H - rh, rw, rh}
	fill(dst, rd, NHSSecondary)
	fill(dst, Rect{rd.X + rw*0.25, rd.Y + rh*0.35, rw * 0.5, rh * 0.2}, NHSText)
}
