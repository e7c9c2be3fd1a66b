package ui

import (
	"image/color"
	"strings"

	"ssu-kiosk/kiosk/flow"
	"ssu-kiosk/kiosk/flow/texts"
)

// Rect is a rectangle in pixels.
type Rect struct{ X, Y, W, H float64 }

// Contains reports whether the point is inside r.
func (r Rect) Contains(x, y float64) bool {
	return x >= r.X && y >= r.Y && x < r.X+r.W && y < r.Y+r.H
}

// Center is r's middle point.
func (r Rect) Center() (float64, float64) { return r.X + r.W/2, r.Y + r.H/2 }

func (r Rect) scaled(u float64) Rect { return Rect{r.X * u, r.Y * u, r.W * u, r.H * u} }

// ItemKind says what a planned item is.
type ItemKind int

// The items a screen is made of.
const (
	ItemHeader ItemKind = iota
	ItemText
	ItemField
	ItemButton
	ItemKey
	ItemQR
	ItemSpinner
	ItemPanel
	ItemCardArt // a smartcard going into a reader, on the welcome screen
)

// TargetKind says what a touch, click or focus lands on.
type TargetKind int

// The targets.
const (
	TargetNone TargetKind = iota
	TargetButton
	TargetField
	TargetKey
)

// Key is an on-screen key: it types Text, or erases one character.
type Key struct {
	Label string
	Text  string
	Erase bool
}

// Target is something a person can touch or focus.
type Target struct {
	Kind   TargetKind
	Button flow.ButtonID
	Field  flow.FieldID
	Key    Key
}

// String names the target for logs and tests: "button:continue", "field:code", "key:7", "key:delete".
func (t Target) String() string {
	switch t.Kind {
	case TargetButton:
		return "button:" + string(t.Button)
	case TargetField:
		return "field:" + string(t.Field)
	case TargetKey:
		if t.Key.Erase {
			return "key:delete"
		}
		return "key:" + t.Key.Text
	}
	return "none"
}

// Item is one thing to draw, in pixels.
type Item struct {
	Kind  ItemKind
	Rect  Rect
	Lines []string
	// Size is the font size in pixels; LineHeight the distance between lines.
	Size, LineHeight float64
	Bold             bool
	Color            color.RGBA
	Target           Target
	Enabled, Primary bool
	// Field is the field an ItemField shows (its value is masked when Field.Masked).
	Field flow.Field
	// QR is the address an ItemQR encodes.
	QR string
}

// Plan is a laid-out screen.
type Plan struct {
	Width, Height int
	// Scale is pixels per layout unit: 1 at 800x480.
	Scale float64
	Items []Item
	// Fitted names the layout variant that fitted ("" when the first did), for tests.
	Fitted string
	// Look is the look it was laid out in.
	Look Look
}

// Hit returns the target at the point, if any.
func (p Plan) Hit(x, y float64) (Target, bool) {
	for i := len(p.Items) - 1; i >= 0; i-- {
		it := p.Items[i]
		if it.Target.Kind != TargetNone && it.Rect.Contains(x, y) {
			if it.Kind == ItemButton && !it.Enabled {
				return Target{}, false
			}
			return it.Target, true
		}
	}
	return Target{}, false
}

// Focusables lists, in tab order, the fields and the enabled buttons.
func (p Plan) Focusables() []Target {
	var out []Target
	for _, it := range p.Items {
		if it.Kind == ItemField {
			out = append(out, it.Target)
		}
	}
	for _, it := range p.Items {
		if it.Kind == ItemButton && it.Enabled {
			out = append(out, it.Target)
		}
	}
	return out
}

// Find returns the item for a target.
func (p Plan) Find(t Target) (Item, bool) {
	for _, it := range p.Items {
		if it.Target == t && t.Kind != TargetNone {
			return it, true
		}
	}
	return Item{}, false
}

// Targets lists every touchable target (enabled or not) with its rectangle, for logs and end-to-end tests.
func (p Plan) Targets() []Item {
	var out []Item
	for _, it := range p.Items {
		if it.Target.Kind != TargetNone {
			out = append(out, it)
		}
	}
	return out
}

// Measurer measures text: the advance (width) of s at a font size in pixels.
type Measurer interface {
	Advance(s string, size float64, bold bool) float64
}

// Pad is the on-screen keyboard a field wants.
type Pad int

// The pads.
const (
	PadNone     Pad = iota
	PadKeyboard     // letters, digits and email symbols
	PadPhone        // digits and +
	PadDigits       // digits only
)

// PadFor picks the pad for the focused field (or the first field).
func PadFor(sc flow.Screen) Pad {
	if len(sc.Fields) == 0 {
		return PadNone
	}
	f := sc.Fields[0]
	if g, ok := sc.Field(sc.Focus); ok {
		f = g
	}
	switch f.Kind {
	case flow.KindEmail:
		return PadKeyboard
	case flow.KindMobile:
		return PadPhone
	}
	return PadDigits
}

var keyboardRows = []string{"1234567890", "qwertyuiop", "asdfghjkl@", "zxcvbnm.-_"}

// variant is one way to fit a screen: tried in order until the content fits.
type variant struct {
	name            string
	title, body     float64
	inlineLabels    bool
	maxBody         int // paragraphs lines kept (0: all)
	compactKeyboard bool
	label           float64 // field labels (labelSize when 0)
	lookLarge       bool    // the larger-text look is on (set by LayoutLook, whichever variant fits)
}

func (v variant) labelSize() float64 {
	if v.label > 0 {
		return v.label
	}
	return labelSize
}

var variants = []variant{
	{name: "", title: titleSize, body: bodySize},
	{name: "smaller", title: 23, body: 16},
	{name: "inline", title: 22, body: 15, inlineLabels: true},
	{name: "compact", title: 20, body: 14, inlineLabels: true, compactKeyboard: true},
	{name: "tight", title: 19, body: 13, label: 14, inlineLabels: true, compactKeyboard: true},
	{name: "truncated", title: 20, body: 14, inlineLabels: true, compactKeyboard: true, maxBody: 3},
}

// largeVariants are the larger-text look's, tried before the standard look's smaller steps: the densest
// screens (three passcode fields and a warning) fall back to them rather than lose words.
var largeVariants = append([]variant{
	{name: "large", title: 34, body: 24, label: 20},
	{name: "large-smaller", title: 30, body: 21, label: 19},
	{name: "large-inline", title: 28, body: 20, label: 18, inlineLabels: true},
	{name: "large-compact", title: 26, body: 19, label: 18, inlineLabels: true, compactKeyboard: true},
	{name: "large-tight", title: 24, body: 17, label: 17, inlineLabels: true, compactKeyboard: true},
}, variants[1:]...)

// The header's buttons, on every screen: they are the UI's own, not the walk-through's.
const (
	// ButtonLanguage switches to the other language (F6 does the same).
	ButtonLanguage flow.ButtonID = "language"
	// ButtonTextSize turns larger, higher-contrast text on and off (F7 does the same).
	ButtonTextSize flow.ButtonID = "text-size"
)

// Look is how the person asked for the screen to be drawn.
type Look struct {
	// Large is larger, higher-contrast text: bigger titles, paragraphs and labels, and black text.
	Large bool
}

// Layout places screen sc on a w x h window in the standard look. place is shown in the header (site
// and ward). Sizes are in layout units of one pixel at 800x480, scaled by min(w/800, h/480).
func Layout(sc flow.Screen, w, h int, m Measurer, place string) Plan {
	return LayoutLook(sc, w, h, m, place, Look{})
}

// LayoutLook is Layout in the look the person chose.
func LayoutLook(sc flow.Screen, w, h int, m Measurer, place string, look Look) Plan {
	u := min(float64(w)/800, float64(h)/480)
	if u <= 0 {
		u = 1
	}
	vw, vh := float64(w)/u, float64(h)/u
	sm := scaledMeasurer{m, u}
	var p Plan
	vs := variants
	if look.Large {
		vs = largeVariants
	}
	for i, v := range vs {
		v.lookLarge = look.Large
		var ok bool
		p, ok = build(sc, vw, vh, sm, place, v)
		if ok || i == len(vs)-1 {
			p.Fitted = v.name
			break
		}
	}
	p.Width, p.Height, p.Scale, p.Look = w, h, u, look
	for i := range p.Items {
		it := &p.Items[i]
		it.Rect = it.Rect.scaled(u)
		it.Size *= u
		it.LineHeight *= u
		if look.Large && it.Color == NHSText {
			it.Color = HighContrastText
		}
	}
	return p
}

type builder struct {
	m      Measurer
	tr     *texts.Printer
	items  []Item
	header []Item // the header's buttons, last in the tab order
}

func (b *builder) plan() Plan { return Plan{Items: append(b.items, b.header...)} }

func (b *builder) add(it Item) { b.items = append(b.items, it) }

// text adds wrapped text at (x, y) within width and returns the height used.
func (b *builder) text(s string, x, y, width, size float64, bold bool, c color.RGBA, maxLines int) float64 {
	lines := wrap(b.m, s, width, size, bold)
	if maxLines > 0 && len(lines) > maxLines {
		lines = lines[:maxLines]
		last := strings.TrimRight(lines[maxLines-1], " .,")
		for b.m.Advance(last+"…", size, bold) > width && strings.Contains(last, " ") {
			last = strings.TrimRight(last[:strings.LastIndex(last, " ")], " .,")
		}
		lines[maxLines-1] = last + "…"
	}
	lh := size * lineSpacing
	b.add(Item{Kind: ItemText, Rect: Rect{x, y, width, lh * float64(len(lines))}, Lines: lines, Size: size,
		LineHeight: lh, Bold: bold, Color: c})
	return lh * float64(len(lines))
}

func build(sc flow.Screen, vw, vh float64, m Measurer, place string, v variant) (Plan, bool) {
	b := &builder{m: m, tr: texts.NewPrinter(sc.Lang)}
	// Header: NHS blue bar with the service name, the kiosk's place, and the language and text-size
	// buttons (added last, so they come last in the tab order).
	tr := b.tr
	b.add(Item{Kind: ItemHeader, Rect: Rect{0, 0, vw, headerHeight}, Color: NHSBlue})
	b.add(Item{Kind: ItemText, Rect: Rect{margin, 13, vw / 2, 26}, Lines: []string{tr.Sprintf("Smartcard self-service")},
		Size: 20, LineHeight: 26, Bold: true, Color: NHSWhite})
	sizeLabel := tr.Sprintf("Larger text")
	if v.lookLarge {
		sizeLabel = tr.Sprintf("Standard text")
	}
	var header []flow.Button
	hx := vw - margin
	for _, hb := range []flow.Button{{ID: ButtonTextSize, Label: sizeLabel, Enabled: true},
		{ID: ButtonLanguage, Label: tr.Sprintf("Cymraeg"), Enabled: true}} {
		header = append(header, hb)
		hx -= m.Advance(hb.Label, smallSize+1, true) + 2*12 + gap
	}
	titleEnd := margin + m.Advance(tr.Sprintf("Smartcard self-service"), 20, true) + gap
	if pw := m.Advance(place, smallSize, false); place != "" && hx-pw > titleEnd {
		b.add(Item{Kind: ItemText, Rect: Rect{hx - pw, 16, pw, 20}, Lines: []string{place},
			Size: smallSize, LineHeight: 20, Color: NHSWhite})
	}
	x0 := vw - margin
	for _, hb := range header {
		w := m.Advance(hb.Label, smallSize+1, true) + 2*12
		x0 -= w
		b.header = append([]Item{{Kind: ItemButton, Rect: Rect{x0, 2, w, minTarget}, Lines: []string{hb.Label},
			Size: smallSize + 1, LineHeight: (smallSize + 1) * lineSpacing, Bold: true, Color: NHSDarkBlue, Enabled: true,
			Target: Target{Kind: TargetButton, Button: hb.ID}}}, b.header...) // left to right
		x0 -= gap
	}

	pad := PadFor(sc)
	top := headerHeight + 4 // 56 units down, as before the header held buttons
	bottom := vh - margin/2
	x, cw := margin, vw-2*margin
	var kbTop float64
	switch {
	case pad == PadKeyboard:
		rows, kh := 5.0, keyHeight
		if v.compactKeyboard {
			kh = minTarget
		}
		kbH := rows*kh + (rows-1)*6
		kbTop = vh - margin/2 - kbH
		layoutKeyboard(b, x, kbTop, cw, kh)
		bottom = kbTop - gap
	case pad == PadPhone || pad == PadDigits:
		padW := 3*padKeyWidth + 2*gap
		px := vw - margin - padW
		layoutPad(b, px, top, pad)
		cw = px - 2*margin
	case sc.Error != nil && sc.Error.TroubleshootingURL != "":
		qx := vw - margin - qrSize
		b.add(Item{Kind: ItemPanel, Rect: Rect{qx - 8, top, qrSize + 16, qrSize + 16 + 44}, Color: NHSGrey5})
		b.add(Item{Kind: ItemQR, Rect: Rect{qx, top + 8, qrSize, qrSize}, QR: sc.Error.TroubleshootingURL})
		b.text(tr.Sprintf("Scan for help"), qx-4, top+qrSize+20, qrSize+8, smallSize, true, NHSText, 2)
		cw = qx - 8 - 2*margin
	}

	y := top
	y += b.text(sc.Title, x, y, cw, v.title, true, NHSText, 3) + gap
	bodySz := v.body
	if pad == PadKeyboard {
		bodySz = min(bodySz, 15)
	}
	lines := 0
	for _, para := range sc.Body {
		maxL := 0
		if v.maxBody > 0 {
			maxL = v.maxBody - lines
			if maxL <= 0 {
				break
			}
		}
		hgt := b.text(para, x, y, cw, bodySz, false, NHSText, maxL)
		lines += int(hgt/(bodySz*lineSpacing) + 0.5)
		y += hgt + gap/2
	}
	if sc.Error != nil {
		info := tr.Sprintf("Error code: %s · Kiosk: %s", sc.Error.Code, sc.Error.KioskID)
		y += gap / 2
		b.add(Item{Kind: ItemPanel, Rect: Rect{x, y, cw, smallSize*lineSpacing + 12}, Color: NHSGrey5})
		b.text(info, x+8, y+6, cw-16, smallSize+1, true, NHSText, 1)
		y += smallSize*lineSpacing + 12 + gap
	}
	if sc.Busy {
		b.add(Item{Kind: ItemSpinner, Rect: Rect{x, y, spinnerSize, spinnerSize}, Color: NHSBlue})
		y += spinnerSize + gap
	}

	if sc.ID == flow.Welcome {
		if h := bottom - y - gap; h >= 120 {
			ah := min(h, 260)
			aw := ah * 1.3
			b.add(Item{Kind: ItemCardArt, Rect: Rect{x + (cw-aw)/2, y + gap, aw, ah}, Color: NHSBlue})
			y += ah + gap
		}
	}

	// Buttons are measured first: on the keyboard screen they sit beside the field.
	type btn struct {
		b flow.Button
		w float64
	}
	var btns []btn
	rowW := 0.0
	for _, bt := range sc.Buttons {
		w := max(m.Advance(bt.Label, buttonSize, true)+2*buttonPadding, 96)
		btns = append(btns, btn{bt, w})
		rowW += w + gap
	}
	besideField := pad == PadKeyboard && len(sc.Fields) == 1

	for _, f := range sc.Fields {
		boxX, boxW := x, cw
		if besideField {
			boxW = cw - rowW
		}
		if v.inlineLabels && !besideField {
			lw := cw * 0.4
			lh := b.text(f.Label, x, y+12, lw-gap, v.labelSize(), true, NHSText, 2)
			_ = lh
			boxX, boxW = x+lw, cw-lw
		} else {
			y += b.text(f.Label, x, y, cw, v.labelSize(), true, NHSText, 1) + 2
		}
		b.add(Item{Kind: ItemField, Rect: Rect{boxX, y, boxW, fieldHeight}, Size: keySize, LineHeight: fieldHeight,
			Field: f, Target: Target{Kind: TargetField, Field: f.ID}, Enabled: true, Color: NHSText})
		if besideField {
			bx := boxX + boxW + gap
			for _, bt := range btns {
				addButton(b, bt.b, Rect{bx, y - 2, bt.w, buttonHeight})
				bx += bt.w + gap
			}
		}
		y += fieldHeight + 4
		if f.Error != "" {
			y += b.text(f.Error, x, y, cw, smallSize, true, NHSRed, 0) // never cut: it says what to do
		}
		y += gap
	}
	// A choice of three or more (how to confirm it is you) is a column of wide buttons, Cancel below.
	choices := 0
	for _, bt := range btns {
		if bt.b.ID != flow.ButtonCancel {
			choices++
		}
	}
	if len(sc.Fields) == 0 && choices >= 3 {
		y += gap / 2
		wide := min(cw, 560)
		for _, bt := range btns {
			w := wide
			if bt.b.ID == flow.ButtonCancel {
				w = bt.w
			}
			addButton(b, bt.b, Rect{x, y, w, buttonHeight})
			y += buttonHeight + gap
		}
		return b.plan(), y-gap <= bottom
	}
	if !besideField && len(btns) > 0 {
		y += gap / 2
		bx := x
		for _, bt := range btns {
			if bx > x && bx+bt.w > x+cw {
				bx = x
				y += buttonHeight + gap
			}
			addButton(b, bt.b, Rect{bx, y, bt.w, buttonHeight})
			bx += bt.w + gap
		}
		y += buttonHeight
	}
	return b.plan(), y <= bottom
}

func addButton(b *builder, bt flow.Button, r Rect) {
	c := NHSSecondary
	if bt.Primary {
		c = NHSGreen
	}
	if !bt.Enabled {
		c = NHSGrey4
	}
	b.add(Item{Kind: ItemButton, Rect: r, Lines: []string{bt.Label}, Size: buttonSize, LineHeight: buttonSize * lineSpacing,
		Bold: true, Color: c, Enabled: bt.Enabled, Primary: bt.Primary, Target: Target{Kind: TargetButton, Button: bt.ID}})
}

func addKey(b *builder, k Key, r Rect) {
	size := keySize
	if len([]rune(k.Label)) > 1 {
		size = labelSize + 1
	}
	b.add(Item{Kind: ItemKey, Rect: r, Lines: []string{k.Label}, Size: size, LineHeight: size * lineSpacing,
		Bold: true, Color: NHSText, Enabled: true, Target: Target{Kind: TargetKey, Key: k}})
}

func layoutKeyboard(b *builder, x, y, w, kh float64) {
	const kg = 6.0
	kw := (w - 9*kg) / 10
	for r, row := range keyboardRows {
		for i, c := range row {
			addKey(b, Key{Label: string(c), Text: string(c)}, Rect{x + float64(i)*(kw+kg), y + float64(r)*(kh+kg), kw, kh})
		}
	}
	yb := y + 4*(kh+kg)
	addKey(b, Key{Label: "@nhs.net", Text: "@nhs.net"}, Rect{x, yb, 3*kw + 2*kg, kh})
	addKey(b, Key{Label: ".uk", Text: ".uk"}, Rect{x + 3*(kw+kg), yb, 2*kw + kg, kh})
	addKey(b, Key{Label: b.tr.Sprintf("Delete"), Erase: true}, Rect{x + 7*(kw+kg), yb, 3*kw + 2*kg, kh})
}

func layoutPad(b *builder, x, y float64, pad Pad) {
	keys := []Key{}
	for _, c := range "123456789" {
		keys = append(keys, Key{Label: string(c), Text: string(c)})
	}
	if pad == PadPhone {
		keys = append(keys, Key{Label: "+", Text: "+"})
	} else {
		keys = append(keys, Key{})
	}
	keys = append(keys, Key{Label: "0", Text: "0"}, Key{Label: b.tr.Sprintf("Delete"), Erase: true})
	for i, k := range keys {
		if k.Label == "" {
			continue
		}
		col, row := float64(i%3), float64(i/3)
		addKey(b, k, Rect{x + col*(padKeyWidth+gap), y + row*(padKeyHeight+gap), padKeyWidth, padKeyHeight})
	}
}

// wrap breaks s into lines no wider than width (a word longer than a line gets a line of its own).
func wrap(m Measurer, s string, width, size float64, bold bool) []string {
	words := strings.Fields(s)
	if len(words) == 0 {
		return nil
	}
	var lines []string
	line := words[0]
	for _, w := range words[1:] {
		if try := line + " " + w; m.Advance(try, size, bold) <= width {
			line = try
			continue
		}
		lines = append(lines, line)
		line = w
	}
	return append(lines, line)
}

// scaledMeasurer measures in layout units text that is drawn at u times the size, so that wrapping
// matches what is drawn (glyph advances do not scale exactly).
type scaledMeasurer struct {
	m Measurer
	u float64
}

func (s scaledMeasurer) Advance(text string, size float64, bold bool) float64 {
	return s.m.Advance(text, size*s.u, bold) / s.u
}
