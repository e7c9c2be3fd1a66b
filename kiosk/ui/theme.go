package ui

import (
	"image/color"
	"math"
)

// Colours of the NHS design system (service manual, colours). Each pair used for text meets WCAG 2.2 AA.
var (
	NHSBlue     = color.RGBA{0x00, 0x5e, 0xb8, 0xff} // header
	NHSWhite    = color.RGBA{0xff, 0xff, 0xff, 0xff} // page
	NHSText     = color.RGBA{0x21, 0x2b, 0x32, 0xff} // body text
	NHSDarkBlue = color.RGBA{0x00, 0x30, 0x87, 0xff} // the header's buttons
	// HighContrastText is the larger-text look's text: black on white (21:1).
	HighContrastText = color.RGBA{0x00, 0x00, 0x00, 0xff}
	NHSSecondary     = color.RGBA{0x4c, 0x62, 0x72, 0xff} // secondary text, secondary buttons
	NHSGreen         = color.RGBA{0x00, 0x7f, 0x3b, 0xff} // primary buttons
	NHSDarkGreen     = color.RGBA{0x00, 0x40, 0x1e, 0xff} // primary button shadow
	NHSYellow        = color.RGBA{0xff, 0xeb, 0x3b, 0xff} // focus ring
	NHSRed           = color.RGBA{0xd5, 0x28, 0x1b, 0xff} // errors
	NHSGrey4         = color.RGBA{0xd8, 0xdd, 0xe0, 0xff} // borders, disabled buttons
	NHSGrey5         = color.RGBA{0xf0, 0xf4, 0xf5, 0xff} // panels, keys
	NHSDarkGrey      = color.RGBA{0x42, 0x55, 0x63, 0xff} // disabled button text on grey 4
	NHSKeyShadow     = color.RGBA{0xae, 0xb7, 0xbd, 0xff} // key shadow
)

// relativeLuminance is WCAG 2.2's relative luminance of an sRGB colour.
func relativeLuminance(c color.RGBA) float64 {
	ch := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(c.R) + 0.7152*ch(c.G) + 0.0722*ch(c.B)
}

// ContrastRatio is WCAG 2.2's contrast ratio of two colours (1 to 21).
func ContrastRatio(a, b color.RGBA) float64 {
	la, lb := relativeLuminance(a), relativeLuminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// Base sizes, in layout units: one unit is one pixel at 800x480 and grows with the screen (see Layout).
const (
	headerHeight  = 52.0 // room for the language and text-size buttons, 48 high
	margin        = 16.0
	gap           = 8.0
	titleSize     = 26.0
	bodySize      = 18.0
	smallSize     = 15.0
	labelSize     = 16.0
	buttonSize    = 19.0
	keySize       = 22.0
	fieldHeight   = 48.0
	buttonHeight  = 52.0 // 48 plus a 4-unit shadow
	minTarget     = 48.0 // touch targets at 800x480, WCAG 2.2 target size and NHS guidance
	keyHeight     = 48.0
	padKeyWidth   = 76.0
	padKeyHeight  = 56.0
	qrSize        = 132.0
	spinnerSize   = 44.0
	lineSpacing   = 1.3
	focusRing     = 4.0
	buttonPadding = 18.0
)
