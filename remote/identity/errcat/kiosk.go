package errcat

// Codes raised by the kiosk and its card reader (ERR2xxx).
const (
	ERR2001 Code = "ERR2001" // card unreadable
	ERR2002 Code = "ERR2002" // not a PIV smartcard
	ERR2003 Code = "ERR2003" // card removed mid-operation
	ERR2004 Code = "ERR2004" // no card reader
	ERR2005 Code = "ERR2005" // smartcard service down
	ERR2006 Code = "ERR2006" // the card refused the unlock
	ERR2007 Code = "ERR2007" // unlock outcome unknown
	ERR2008 Code = "ERR2008" // kiosk cannot reach the identity service
	ERR2009 Code = "ERR2009" // unexpected kiosk error
	ERR2010 Code = "ERR2010" // the card refused the passcode change
	ERR2011 Code = "ERR2011" // passcode change outcome unknown
)

var kioskEntries = []Entry{
	{ERR2001, "Your smartcard could not be read",
		"Take your smartcard out, check it is the right way up, and insert it again."},
	{ERR2002, "This card is not a smartcard this kiosk can unlock",
		"Please visit your Registration Authority (RA)."},
	{ERR2003, "Your smartcard was removed",
		"Nothing was changed on your smartcard. Insert it again to start over."},
	{ERR2004, "The card reader is not working",
		"Please use another kiosk and tell the IT service desk."},
	{ERR2005, "The smartcard service on this kiosk is not working",
		"Please use another kiosk and tell the IT service desk."},
	{ERR2006, "Your smartcard could not be unlocked",
		"Please visit your Registration Authority (RA) with your smartcard."},
	{ERR2007, "We could not confirm whether your smartcard was unlocked",
		"Insert your smartcard again so the kiosk can check it."},
	{ERR2008, "This kiosk cannot reach the identity service",
		"Please try again in a few minutes, or use another kiosk."},
	{ERR2009, "Something went wrong on this kiosk",
		"Take your smartcard out and try again. If it keeps happening, use another kiosk and tell the IT service desk."},
	{ERR2010, "Your passcode could not be changed",
		"Your passcode has not changed. Take your smartcard out and try again, or visit your Registration Authority (RA)."},
	{ERR2011, "We could not confirm whether your passcode was changed",
		"Your passcode is now either your old one or your new one. Try your new passcode first. " +
			"Three wrong passcodes lock your smartcard."},
}
