package errcat

// Codes raised by the identity service (ERR1xxx).
const (
	ERR1001 Code = "ERR1001" // not registered
	ERR1002 Code = "ERR1002" // no email on profile
	ERR1003 Code = "ERR1003" // email domain not allowed
	ERR1004 Code = "ERR1004" // certificates expired
	ERR1005 Code = "ERR1005" // card not genuine
	ERR1006 Code = "ERR1006" // session expired
	ERR1007 Code = "ERR1007" // too many wrong codes
	ERR1008 Code = "ERR1008" // send limit reached or too soon
	ERR1009 Code = "ERR1009" // SOPIN not obtained
	ERR1010 Code = "ERR1010" // service unavailable
	ERR1011 Code = "ERR1011" // wrong security code
	ERR1012 Code = "ERR1012" // request not accepted (malformed)
	ERR1013 Code = "ERR1013" // rate limit for this card or kiosk
	ERR1014 Code = "ERR1014" // session unknown or already finished
	ERR1015 Code = "ERR1015" // method unavailable (face verification)
	ERR1016 Code = "ERR1016" // too many wrong codes for this card or holder: locked until an RA clears it
)

var serviceEntries = []Entry{
	{ERR1001, "Your smartcard is not registered for self-service unlock",
		"Please visit your Registration Authority (RA) to unlock your smartcard."},
	{ERR1002, "There is no email address on your profile",
		"Ask your Registration Authority (RA) to add your work email address to your profile, then try again."},
	{ERR1003, "The email address on your profile cannot be used here",
		"Only approved work email addresses can receive security codes. Please visit your Registration Authority (RA)."},
	{ERR1004, "The certificates on your smartcard have expired",
		"Please visit your Registration Authority (RA) to renew your smartcard."},
	{ERR1005, "Your smartcard could not be checked",
		"Please visit your Registration Authority (RA) with your smartcard."},
	{ERR1006, "Your session has timed out",
		"Remove your smartcard and insert it again to start over."},
	{ERR1007, "The security code was entered incorrectly too many times",
		"Remove your smartcard and start again, or visit your Registration Authority (RA)."},
	{ERR1008, "No more security codes can be sent right now",
		"Wait a minute and try again, or start over with your smartcard."},
	{ERR1009, "Failed to obtain SOPIN for user",
		"Your smartcard could not be unlocked here. Please visit your Registration Authority (RA)."},
	{ERR1010, "The identity service is not available",
		"Please try again in a few minutes. If it keeps happening, contact the IT service desk."},
	{ERR1011, "The security code is not right",
		"Check the code in your most recent message and enter it again."},
	{ERR1012, "The kiosk sent a request the identity service could not accept",
		"Remove your smartcard and start again. If it keeps happening, tell the IT service desk."},
	{ERR1013, "Too many attempts have been made with this smartcard or kiosk",
		"Please wait an hour and try again, or visit your Registration Authority (RA)."},
	{ERR1014, "Your session has already finished",
		"Remove your smartcard and insert it again to start over."},
	{ERR1015, "This way of proving who you are is not available",
		"Please choose email or text message instead, or visit your Registration Authority (RA)."},
	{ERR1016, "Self-service unlock is paused for this smartcard",
		"Too many wrong security codes were entered. Please ask your Registration Authority (RA) to unlock your smartcard."},
}
