package led_test

import (
	"fmt"
	"log/slog"

	"ssu-kiosk/hal/led"
)

func ExampleOpen() {
	// On a development machine with no LEDs: every light simulated.
	panel, err := led.Open(led.Config{Green: "sim:green", Amber: "sim:amber", Red: "sim:red"}, slog.Default())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer panel.Close()

	_ = panel.Show(led.Busy) // the kiosk is talking to the card
	fmt.Println(panel.Current())
	_ = panel.Show(led.Success)
	fmt.Println(panel.Current()) // what a health message carries
	// Output:
	// busy
	// success
}
