// Package speech gives every kiosk screen a spoken form and speaks it through a headset: what the screen
// says, what is focused and what can be done next, in the language the person chose (all words from the
// catalogue, package texts).
//
//   - Script turns a screen model and the focus into an Utterance.
//   - A Speaker speaks the latest utterance: an Engine makes the samples (Espeak runs Debian's espeak-ng,
//     which has English and Welsh voices), an Output plays them (Oto, through github.com/ebitengine/oto/v3,
//     the library Ebiten's audio package is built on, to ALSA or PulseAudio). A new utterance cuts the
//     one being spoken.
//   - A Jack reports a headset being plugged in and pulled out (EvdevJack reads the kernel's
//     SW_HEADPHONE_INSERT switch, where the sound card has jack detection); speechtest has fakes of all three.
//
// Speech is off until a headset is plugged in or the speech key is held (see package ui), and stops at
// once when the headset is pulled. With no audio device the kiosk works on, silently.
//
// It must never speak or log a passcode or security code: masked fields are spoken as a count ("3 of 6
// entered"). The email address or phone number being typed is spelled back in speech only, never logged
// (Utterance.Log leaves it out).
package speech
