// Package led drives the kiosk's status LEDs: a green, an amber and a red
// light, each a periph gpio.PinOut that is a GPIO line, a sysfs LED
// (/sys/class/leds/NAME) or a simulated LED that only logs its state.
//
// A Panel shows one Pattern at a time (idle, busy, success, error, out of
// service) and can be asked to Identify itself: every light blinks for 15 s,
// then the panel goes back to whatever the kiosk asked for meanwhile. The
// pattern being shown is available as a string for the fleet link's health
// messages (Panel.Current().String()).
//
// Patterns, by light (a blink is the given time on, then the same time off):
//
//	off             all dark
//	idle            green steady
//	busy            amber blinking 500 ms
//	success         green blinking 150 ms
//	error           red blinking 150 ms
//	out-of-service  red steady
//	identify        green, amber and red blinking together 250 ms, for 15 s
//
// What this package must never do: crash or refuse to start because LED
// hardware is missing (Open warns and simulates that LED instead), block its
// caller for longer than a few pin writes, or log anything but light names,
// specs and pattern names. It has nothing to do with cards or people and must
// never be handed a PIN, SOPIN, security code or contact detail.
package led
