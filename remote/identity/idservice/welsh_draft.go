package idservice

// The Welsh (Cymraeg) code message: the email subject, and the words before and after the code in the
// email body and the text message (see wordingFor).
//
// DRAFT: this Welsh has NOT yet been reviewed by a Welsh speaker. It was written so that a person who chose
// Welsh at the kiosk gets their security code in Welsh, and must be checked (and corrected here, nowhere
// else) by a fluent Welsh speaker, ideally with the NHS Wales / Welsh Language Commissioner's terminology,
// before it is sent to the public. It must keep the code between welshBefore and welshAfter and hold no
// code, address or name itself.
const (
	welshSubject = "Eich cod diogelwch i ddatgloi eich cerdyn clyfar"
	welshBefore  = "Eich cod diogelwch yw "
	welshAfter   = ".\n\nRhowch ef yn y ciosg o fewn 15 munud i chi roi eich cerdyn clyfar i mewn.\n" +
		"Os na wnaethoch chi ofyn am y cod hwn, rhowch wybod i'ch Awdurdod Cofrestru (RA)."
)
