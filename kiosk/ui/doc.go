// Package ui is the kiosk's full-screen user interface, drawn with Ebiten: it draws the screen models of
// package flow and turns touches, clicks and key presses into flow events.
//
// It is split so that everything but the drawing is testable with no display and no GPU:
//   - Layout turns a flow.Screen and a window size (800x480 to 1920x1080 and beyond) into a Plan: where
//     each title, paragraph, field, button, on-screen key, QR code and spinner goes. Text is measured
//     through the small Measurer interface.
//   - Keyboard and pointer input is collected into an Input and mapped to flow events by Game.apply;
//     lock-down keys (Alt+F4, Ctrl+Q, Ctrl+W, Ctrl+Alt+Fn) and the window's close button do nothing.
//   - Game is the ebiten.Game: it drains the runner's events without blocking, drives the walk-through,
//     hands effects to the runner and redraws only when the screen model changed (FPSModeVsyncOffMinimum;
//     the runner wakes it with ebiten.ScheduleFrame).
//
// Access for everyone (EN 301 549 closed functionality), on every screen:
//   - Language: the header's "Cymraeg"/"English" button or F6 switches between English and Welsh without
//     losing the person's place; the choice ends with the session (package flow, texts).
//   - Larger text: the header's "Larger text" button or F7 switches to larger, black-on-white text; the
//     layout keeps every word at 800x480, falling back to smaller steps only on the densest screens.
//   - Speech (package speech, through a headset): it starts when a headset is plugged in where the sound
//     card reports its jack, or when F12 is held for 2 seconds (held again: off); F11 repeats the
//     screen, F9 and F10 turn the volume down and up. Speech follows every change of screen, language and
//     focus and each character typed ("Security code, 3 of 6 entered"); it never speaks a digit of a
//     passcode or code. "Do you need more time?" is also warned by a tone; Enter, Space on its button or
//     a touch gives more time.
//
// The look follows the NHS design system: NHS blue header, white page, dark text, green primary buttons,
// a yellow focus ring, large type and touch targets of at least 48 px at 800x480; the palette meets
// WCAG 2.2 AA contrast. The font is DejaVu Sans (fonts/, free licence, see fonts/LICENSE), embedded.
//
// The package never sees a passcode, security code or SOPIN: masked fields arrive as a length only and
// typed characters go straight into flow events. It must never log typed characters or a field's value.
package ui
