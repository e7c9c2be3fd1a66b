// Package golden holds the golden-screenshot tests of the kiosk's screens: every screen the walk-through
// shows (kiosk/ui/uitest) is drawn at 800x480 and 1920x1080, in English and Welsh and in the standard
// and larger-text looks, under a private Xvfb and compared, with a tolerance, to the PNGs in
// testdata/kiosk/screens (one folder per size, language and look). Regenerate them after a deliberate change with
//
//	go test ./kiosk/ui/golden -run TestGolden -update
//
// It has no code outside its tests and must never be imported.
package golden
