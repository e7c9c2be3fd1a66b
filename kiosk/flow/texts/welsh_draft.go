package texts

import (
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/message/catalog"
)

// welsh is the Welsh (Cymraeg) text of every message.
//
// DRAFT: this Welsh has NOT yet been reviewed by a Welsh speaker. It was written to make the kiosk
// bilingual end to end and must be checked (and corrected here, nowhere else) by a fluent Welsh speaker,
// ideally with the NHS Wales / Welsh Language Commissioner's terminology, before it is shown to the public.
// Plural forms follow CLDR's Welsh rules (zero, one, two, few, many, other).
var welsh = map[string]catalog.Message{
	// Screens (package flow).
	"Insert your smartcard":                              catalog.String("Rhowch eich cerdyn clyfar i mewn"),
	"Unlock your smartcard or change its passcode here.": catalog.String("Datgloi eich cerdyn clyfar neu newid ei god pas yma."),
	"Put your smartcard in the reader, chip end first.":  catalog.String("Rhowch eich cerdyn clyfar yn y darllenydd, pen y sglodyn yn gyntaf."),
	"This kiosk is out of service":                       catalog.String("Nid yw'r ciosg hwn yn gweithio"),
	"Please use another kiosk.":                          catalog.String("Defnyddiwch giosg arall."),
	"Reading your smartcard":                             catalog.String("Yn darllen eich cerdyn clyfar"),
	"Keep your card in the reader.":                      catalog.String("Cadwch eich cerdyn yn y darllenydd."),
	"Unlock your smartcard":                              catalog.String("Datgloi eich cerdyn clyfar"),
	"Your smartcard is locked.":                          catalog.String("Mae eich cerdyn clyfar wedi'i gloi."),
	"Your smartcard is now locked because the current passcode was entered wrongly too many times.": catalog.String(
		"Mae eich cerdyn clyfar bellach wedi'i gloi oherwydd i'r cod pas presennol gael ei roi'n anghywir ormod o weithiau."),
	"You can unlock it here.":                       catalog.String("Gallwch ei ddatgloi yma."),
	"Start now":                                     catalog.String("Dechrau nawr"),
	"Your smartcard is not locked":                  catalog.String("Nid yw eich cerdyn clyfar wedi'i gloi"),
	"If you know your passcode, you can change it.": catalog.String("Os ydych chi'n gwybod eich cod pas, gallwch ei newid."),
	"If you have forgotten it, select Start now to choose a new one.": catalog.String(
		"Os ydych chi wedi'i anghofio, dewiswch Dechrau nawr i ddewis un newydd."),
	"Change my passcode": catalog.String("Newid fy nghod pas"),
	"To unlock it, you will need a security code sent to the email address or mobile phone on your profile.": catalog.String(
		"I'w ddatgloi, bydd angen cod diogelwch arnoch wedi'i anfon i'r cyfeiriad e-bost neu'r ffôn symudol ar eich proffil."),
	"The security code is valid for %s from when you start.": catalog.String("Mae'r cod diogelwch yn ddilys am %s o'r adeg y byddwch yn dechrau."),
	"Checking your details":                                  catalog.String("Yn gwirio eich manylion"),
	"How do you want to confirm it is you?":                  catalog.String("Sut ydych chi am gadarnhau mai chi sydd yma?"),
	"Email security code":                                    catalog.String("Cod diogelwch drwy e-bost"),
	"Email security code is currently unavailable.":          catalog.String("Nid yw cod diogelwch drwy e-bost ar gael ar hyn o bryd."),
	"Mobile phone security code":                             catalog.String("Cod diogelwch drwy ffôn symudol"),
	"Mobile phone security code is currently unavailable.":   catalog.String("Nid yw cod diogelwch drwy ffôn symudol ar gael ar hyn o bryd."),
	"Face verification":                                      catalog.String("Dilysu wyneb"),
	"Face verification is currently unavailable.":            catalog.String("Nid yw dilysu wyneb ar gael ar hyn o bryd."),
	"Email delivery is not configured.":                      catalog.String("Nid yw anfon e-bost wedi'i osod."),
	"Text messages are not available for your profile.":      catalog.String("Nid yw negeseuon testun ar gael ar gyfer eich proffil."),
	"Enter your mobile phone number":                         catalog.String("Rhowch rif eich ffôn symudol"),
	"Enter the mobile phone number on your profile. If it matches, we will send a security code to it.": catalog.String(
		"Rhowch y rhif ffôn symudol sydd ar eich proffil. Os yw'n cyfateb, byddwn yn anfon cod diogelwch ato."),
	"Mobile phone number":      catalog.String("Rhif ffôn symudol"),
	"Enter your email address": catalog.String("Rhowch eich cyfeiriad e-bost"),
	"Enter the email address on your profile. If it matches, we will send a security code to it.": catalog.String(
		"Rhowch y cyfeiriad e-bost sydd ar eich proffil. Os yw'n cyfateb, byddwn yn anfon cod diogelwch ato."),
	"Email address":              catalog.String("Cyfeiriad e-bost"),
	"Continue":                   catalog.String("Parhau"),
	"Back":                       catalog.String("Yn ôl"),
	"Cancel":                     catalog.String("Canslo"),
	"Sending your security code": catalog.String("Yn anfon eich cod diogelwch"),
	"Enter the security code":    catalog.String("Rhowch y cod diogelwch"),
	"If the email address you entered matches the one on your profile, we have sent a 6-digit security code to it.": catalog.String(
		"Os yw'r cyfeiriad e-bost a roesoch yn cyfateb i'r un ar eich proffil, rydym wedi anfon cod diogelwch 6 digid ato."),
	"If the mobile phone number you entered matches the one on your profile, we have sent a 6-digit security code to it.": catalog.String(
		"Os yw'r rhif ffôn symudol a roesoch yn cyfateb i'r un ar eich proffil, rydym wedi anfon cod diogelwch 6 digid ato."),
	"The code is valid for %s more. You have %s.":   catalog.String("Mae'r cod yn ddilys am %s eto. Mae gennych %s."),
	"less than a minute":                            catalog.String("llai na munud"),
	"Resend code":                                   catalog.String("Anfon y cod eto"),
	"No more codes can be sent in this session.":    catalog.String("Ni ellir anfon rhagor o godau yn y sesiwn hon."),
	"Resend code (in %d s)":                         catalog.String("Anfon y cod eto (mewn %d eiliad)"),
	"Security code":                                 catalog.String("Cod diogelwch"),
	"Checking your security code":                   catalog.String("Yn gwirio eich cod diogelwch"),
	"Follow the instructions on the camera screen.": catalog.String("Dilynwch y cyfarwyddiadau ar sgrin y camera."),
	"Choose a new passcode":                         catalog.String("Dewiswch god pas newydd"),
	"New passcode":                                  catalog.String("Cod pas newydd"),
	"Enter the new passcode again":                  catalog.String("Rhowch y cod pas newydd eto"),
	"Confirm":                                       catalog.String("Cadarnhau"),
	"Unlocking: keep your card in the reader":       catalog.String("Yn datgloi: cadwch eich cerdyn yn y darllenydd"),
	"Your smartcard is unlocked":                    catalog.String("Mae eich cerdyn clyfar wedi'i ddatgloi"),
	"You can now use your smartcard with your new passcode. Remove your card.": catalog.String(
		"Gallwch nawr ddefnyddio eich cerdyn clyfar gyda'ch cod pas newydd. Tynnwch eich cerdyn allan."),
	"Insert your smartcard again": catalog.String("Rhowch eich cerdyn clyfar i mewn eto"),
	"Take your smartcard out if it is still in the reader, then insert it again. The kiosk will check it and finish unlocking it.": catalog.String(
		"Tynnwch eich cerdyn clyfar allan os yw'n dal yn y darllenydd, yna rhowch ef i mewn eto. Bydd y ciosg yn ei wirio ac yn gorffen ei ddatgloi."),
	"Change your passcode":                                 catalog.String("Newid eich cod pas"),
	"You have %s left to enter your current passcode.":     catalog.String("Mae gennych %s ar ôl i roi'ch cod pas presennol."),
	"Current passcode":                                     catalog.String("Cod pas presennol"),
	"Changing your passcode: keep your card in the reader": catalog.String("Yn newid eich cod pas: cadwch eich cerdyn yn y darllenydd"),
	"Your passcode has been changed":                       catalog.String("Mae eich cod pas wedi'i newid"),
	"Your session has ended":                               catalog.String("Mae eich sesiwn wedi dod i ben"),
	"Your session has timed out":                           catalog.String("Mae amser eich sesiwn wedi dod i ben"),
	"Everything you typed has been cleared.":               catalog.String("Mae popeth a deipiwyd gennych wedi'i glirio."),
	"Remove your card.":                                    catalog.String("Tynnwch eich cerdyn allan."),
	"Start again":                                          catalog.String("Dechrau eto"),
	"Do you need more time?":                               catalog.String("Oes angen mwy o amser arnoch chi?"),
	"For your security, this session will end in %s and everything you typed will be cleared.": catalog.String(
		"Er eich diogelwch, bydd y sesiwn hon yn dod i ben ymhen %s a bydd popeth a deipiwyd gennych yn cael ei glirio."),
	"Yes, I need more time": catalog.String("Oes, mae angen mwy o amser arnaf"),
	"Try again":             catalog.String("Rhoi cynnig arall arni"),
	"We have sent you a new security code. Use the newest code.": catalog.String(
		"Rydym wedi anfon cod diogelwch newydd atoch. Defnyddiwch y cod mwyaf diweddar."),
	"Face verification could not confirm who you are. Choose another way to get a security code.": catalog.String(
		"Ni allai dilysu wyneb gadarnhau pwy ydych chi. Dewiswch ffordd arall o gael cod diogelwch."),
	"Your current passcode is 6 to 8 digits long.": catalog.String("Mae eich cod pas presennol rhwng 6 ac 8 digid o hyd."),
	"Your smartcard could not be read. Take it out and insert it again.": catalog.String(
		"Nid oedd modd darllen eich cerdyn clyfar. Tynnwch ef allan a'i roi i mewn eto."),
	"This is not the smartcard you were unlocking. Take it out and insert that smartcard.": catalog.String(
		"Nid hwn yw'r cerdyn clyfar yr oeddech yn ei ddatgloi. Tynnwch ef allan a rhowch y cerdyn clyfar hwnnw i mewn."),
	"Your passcode must be 6 to 8 digits. Do not use a passcode that is easy to guess, such as 123456.": catalog.String(
		"Rhaid i'ch cod pas fod yn 6 i 8 digid. Peidiwch â dewis cod pas hawdd ei ddyfalu, fel 123456."),
	"Enter a new passcode.":                     catalog.String("Rhowch god pas newydd."),
	"Your passcode must only contain numbers.":  catalog.String("Rhaid i'ch cod pas gynnwys rhifau yn unig."),
	"Your passcode must be 6 to 8 digits long.": catalog.String("Rhaid i'ch cod pas fod rhwng 6 ac 8 digid o hyd."),
	"This passcode is too easy to guess. Do not use a common passcode such as 123456, the same digit repeated, or digits in order.": catalog.String(
		"Mae'r cod pas hwn yn rhy hawdd ei ddyfalu. Peidiwch â defnyddio cod pas cyffredin fel 123456, yr un digid drosodd a throsodd, neu ddigidau mewn trefn."),
	"The passcodes do not match. Enter the same passcode twice.": catalog.String("Nid yw'r codau pas yr un fath. Rhowch yr un cod pas ddwywaith."),
	"Your new passcode must be different from your current one.": catalog.String("Rhaid i'ch cod pas newydd fod yn wahanol i'ch un presennol."),
	"Enter a mobile phone number using numbers only, like 07700 900123.": catalog.String(
		"Rhowch rif ffôn symudol gan ddefnyddio rhifau yn unig, fel 07700 900123."),
	"Enter a mobile phone number, like 07700 900123.":                catalog.String("Rhowch rif ffôn symudol, fel 07700 900123."),
	"Enter an email address in the right format, like name@nhs.net.": catalog.String("Rhowch gyfeiriad e-bost yn y fformat cywir, fel enw@nhs.net."),
	"To find your Registration Authority (RA), ask your IT service desk or search your organisation's intranet for \"Registration Authority\".": catalog.String(
		"I ddod o hyd i'ch Awdurdod Cofrestru (RA), gofynnwch i'ch desg gwasanaeth TG neu chwiliwch fewnrwyd eich sefydliad am \"Registration Authority\"."),
	"The security code is not correct. You have %s left.":    catalog.String("Nid yw'r cod diogelwch yn gywir. Mae gennych %s ar ôl."),
	"The current passcode is not correct. You have %s left.": catalog.String("Nid yw'r cod pas presennol yn gywir. Mae gennych %s ar ôl."),
	"The current passcode is not correct. You have %s left. If you enter it wrongly once more, your smartcard will be locked.": catalog.String(
		"Nid yw'r cod pas presennol yn gywir. Mae gennych %s ar ôl. Os yw'n anghywir unwaith eto, bydd eich cerdyn clyfar yn cloi."),
	"If you enter it wrongly once more, your smartcard will be locked.": catalog.String(
		"Os yw'n anghywir unwaith eto, bydd eich cerdyn clyfar yn cloi."),

	// The screen's frame (package ui).
	"Smartcard self-service":     catalog.String("Hunanwasanaeth cerdyn clyfar"),
	"Scan for help":              catalog.String("Sganiwch am help"),
	"Error code: %s · Kiosk: %s": catalog.String("Cod gwall: %s · Ciosg: %s"),
	"Delete":                     catalog.String("Dileu"),
	"Cymraeg":                    catalog.String("English"),
	"Larger text":                catalog.String("Testun mwy"),
	"Standard text":              catalog.String("Testun arferol"),

	// Speech.
	"%s, text field, empty.":                     catalog.String("%s, maes testun, gwag."),
	"%s, text field: %s.":                        catalog.String("%s, maes testun: %s."),
	"%s, %d of %d entered.":                      catalog.String("%s, %d o %d wedi'u rhoi."),
	"%s, button.":                                catalog.String("%s, botwm."),
	"%s, button, not available yet.":             catalog.String("%s, botwm, ddim ar gael eto."),
	"Error: %s":                                  catalog.String("Gwall: %s"),
	"Press Enter to continue, Escape to cancel.": catalog.String("Pwyswch Enter i barhau, Escape i ganslo."),
	"Press Enter to choose %s. Tab moves to the next item, Escape cancels.": catalog.String(
		"Pwyswch Enter i ddewis %s. Mae Tab yn symud i'r eitem nesaf, mae Escape yn canslo."),
	"Press Tab to move between fields and buttons, Escape to cancel.": catalog.String(
		"Pwyswch Tab i symud rhwng meysydd a botymau, Escape i ganslo."),
	"Please wait.": catalog.String("Arhoswch os gwelwch yn dda."),
	"Speech is on. Hold F12 for 2 seconds to turn it off. F11 repeats, F9 and F10 change the volume, F6 changes the language.": catalog.String(
		"Mae lleferydd ymlaen. Daliwch F12 am 2 eiliad i'w ddiffodd. Mae F11 yn ailadrodd, mae F9 ac F10 yn newid y sain, mae F6 yn newid yr iaith."),
	"Press Enter for more time.":                              catalog.String("Pwyswch Enter am fwy o amser."),
	"Your session will end in %s. Press Enter for more time.": catalog.String("Bydd eich sesiwn yn dod i ben ymhen %s. Pwyswch Enter am fwy o amser."),
	"Error code %s. Kiosk %s.":                                catalog.String("Cod gwall %s. Ciosg %s."),

	// Plurals: a numeral takes the singular noun, with the mutations after 2 (soft) and 3 and 6 (aspirate).
	"%d tries": plural.Selectf(1, "%d",
		"zero", "0 cynnig", "one", "1 cynnig", "two", "2 gynnig", "=3", "3 chynnig", "=6", "6 chynnig", "other", "%d cynnig"),
	"%d minutes": plural.Selectf(1, "%d",
		"one", "1 munud", "two", "2 funud", "other", "%d munud"),
	"%d seconds": plural.Selectf(1, "%d",
		"one", "1 eiliad", "two", "2 eiliad", "other", "%d eiliad"),

	// The error catalogue (package errcat): titles and advice.
	"Your smartcard could not be read": catalog.String("Nid oedd modd darllen eich cerdyn clyfar"),
	"Take your smartcard out, check it is the right way up, and insert it again.": catalog.String(
		"Tynnwch eich cerdyn clyfar allan, gwiriwch ei fod y ffordd iawn i fyny, a'i roi i mewn eto."),
	"This card is not a smartcard this kiosk can unlock": catalog.String("Nid yw'r cerdyn hwn yn gerdyn clyfar y gall y ciosg hwn ei ddatgloi"),
	"Please visit your Registration Authority (RA).":     catalog.String("Ewch at eich Awdurdod Cofrestru (RA)."),
	"Your smartcard was removed":                         catalog.String("Cafodd eich cerdyn clyfar ei dynnu allan"),
	"Nothing was changed on your smartcard. Insert it again to start over.": catalog.String(
		"Ni newidiwyd dim ar eich cerdyn clyfar. Rhowch ef i mewn eto i ddechrau eto."),
	"The card reader is not working":                         catalog.String("Nid yw'r darllenydd cardiau yn gweithio"),
	"Please use another kiosk and tell the IT service desk.": catalog.String("Defnyddiwch giosg arall a rhowch wybod i'r ddesg gwasanaeth TG."),
	"The smartcard service on this kiosk is not working":     catalog.String("Nid yw'r gwasanaeth cerdyn clyfar ar y ciosg hwn yn gweithio"),
	"Your smartcard could not be unlocked":                   catalog.String("Nid oedd modd datgloi eich cerdyn clyfar"),
	"Please visit your Registration Authority (RA) with your smartcard.": catalog.String(
		"Ewch at eich Awdurdod Cofrestru (RA) gyda'ch cerdyn clyfar."),
	"We could not confirm whether your smartcard was unlocked": catalog.String("Nid oedd modd i ni gadarnhau a gafodd eich cerdyn clyfar ei ddatgloi"),
	"Insert your smartcard again so the kiosk can check it.":   catalog.String("Rhowch eich cerdyn clyfar i mewn eto er mwyn i'r ciosg ei wirio."),
	"This kiosk cannot reach the identity service":             catalog.String("Ni all y ciosg hwn gysylltu â'r gwasanaeth hunaniaeth"),
	"Please try again in a few minutes, or use another kiosk.": catalog.String("Rhowch gynnig arall arni mewn ychydig funudau, neu defnyddiwch giosg arall."),
	"Something went wrong on this kiosk":                       catalog.String("Aeth rhywbeth o'i le ar y ciosg hwn"),
	"Take your smartcard out and try again. If it keeps happening, use another kiosk and tell the IT service desk.": catalog.String(
		"Tynnwch eich cerdyn clyfar allan a rhowch gynnig arall arni. Os yw'n dal i ddigwydd, defnyddiwch giosg arall a rhowch wybod i'r ddesg gwasanaeth TG."),
	"Your passcode could not be changed": catalog.String("Nid oedd modd newid eich cod pas"),
	"Your passcode has not changed. Take your smartcard out and try again, or visit your Registration Authority (RA).": catalog.String(
		"Nid yw eich cod pas wedi newid. Tynnwch eich cerdyn clyfar allan a rhowch gynnig arall arni, neu ewch at eich Awdurdod Cofrestru (RA)."),
	"We could not confirm whether your passcode was changed": catalog.String("Nid oedd modd i ni gadarnhau a gafodd eich cod pas ei newid"),
	"Your passcode is now either your old one or your new one. Try your new passcode first. Three wrong passcodes lock your smartcard.": catalog.String(
		"Eich cod pas nawr yw naill ai'r hen un neu'r un newydd. Rhowch gynnig ar eich cod pas newydd yn gyntaf. Mae tri chod pas anghywir yn cloi eich cerdyn clyfar."),
	"Ask your Registration Authority (RA) to add your work email address to your profile, then try again.": catalog.String(
		"Gofynnwch i'ch Awdurdod Cofrestru (RA) ychwanegu eich cyfeiriad e-bost gwaith at eich proffil, yna rhowch gynnig arall arni."),
	"Check the code in your most recent message and enter it again.": catalog.String("Gwiriwch y cod yn eich neges fwyaf diweddar a'i roi eto."),
	"Failed to obtain SOPIN for user":                                catalog.String("Methwyd â chael y SOPIN ar gyfer y defnyddiwr"),
	"No more security codes can be sent right now":                   catalog.String("Ni ellir anfon rhagor o godau diogelwch ar hyn o bryd"),
	"Only approved work email addresses can receive security codes. Please visit your Registration Authority (RA).": catalog.String(
		"Dim ond cyfeiriadau e-bost gwaith cymeradwy all dderbyn codau diogelwch. Ewch at eich Awdurdod Cofrestru (RA)."),
	"Please choose email or text message instead, or visit your Registration Authority (RA).": catalog.String(
		"Dewiswch e-bost neu neges destun yn lle hynny, neu ewch at eich Awdurdod Cofrestru (RA)."),
	"Please try again in a few minutes. If it keeps happening, contact the IT service desk.": catalog.String(
		"Rhowch gynnig arall arni mewn ychydig funudau. Os yw'n dal i ddigwydd, cysylltwch â'r ddesg gwasanaeth TG."),
	"Please visit your Registration Authority (RA) to renew your smartcard.": catalog.String(
		"Ewch at eich Awdurdod Cofrestru (RA) i adnewyddu eich cerdyn clyfar."),
	"Please visit your Registration Authority (RA) to unlock your smartcard.": catalog.String(
		"Ewch at eich Awdurdod Cofrestru (RA) i ddatgloi eich cerdyn clyfar."),
	"Please wait an hour and try again, or visit your Registration Authority (RA).": catalog.String(
		"Arhoswch awr a rhowch gynnig arall arni, neu ewch at eich Awdurdod Cofrestru (RA)."),
	"Remove your smartcard and insert it again to start over.": catalog.String("Tynnwch eich cerdyn clyfar allan a'i roi i mewn eto i ddechrau eto."),
	"Remove your smartcard and start again, or visit your Registration Authority (RA).": catalog.String(
		"Tynnwch eich cerdyn clyfar allan a dechrau eto, neu ewch at eich Awdurdod Cofrestru (RA)."),
	"Remove your smartcard and start again. If it keeps happening, tell the IT service desk.": catalog.String(
		"Tynnwch eich cerdyn clyfar allan a dechrau eto. Os yw'n dal i ddigwydd, rhowch wybod i'r ddesg gwasanaeth TG."),
	"The certificates on your smartcard have expired":                catalog.String("Mae'r tystysgrifau ar eich cerdyn clyfar wedi dod i ben"),
	"The email address on your profile cannot be used here":          catalog.String("Ni ellir defnyddio'r cyfeiriad e-bost ar eich proffil yma"),
	"The identity service is not available":                          catalog.String("Nid yw'r gwasanaeth hunaniaeth ar gael"),
	"The kiosk sent a request the identity service could not accept": catalog.String("Anfonodd y ciosg gais na allai'r gwasanaeth hunaniaeth ei dderbyn"),
	"The security code is not right":                                 catalog.String("Nid yw'r cod diogelwch yn gywir"),
	"The security code was entered incorrectly too many times":       catalog.String("Rhoddwyd y cod diogelwch yn anghywir ormod o weithiau"),
	"There is no email address on your profile":                      catalog.String("Nid oes cyfeiriad e-bost ar eich proffil"),
	"Self-service unlock is paused for this smartcard":               catalog.String("Mae datgloi hunanwasanaeth wedi'i oedi ar gyfer y cerdyn clyfar hwn"),
	"Too many wrong security codes were entered. Please ask your Registration Authority (RA) to unlock your smartcard.": catalog.String(
		"Rhoddwyd gormod o godau diogelwch anghywir. Gofynnwch i'ch Awdurdod Cofrestru (RA) ddatgloi eich cerdyn clyfar."),
	"This way of proving who you are is not available":              catalog.String("Nid yw'r ffordd hon o brofi pwy ydych chi ar gael"),
	"Too many attempts have been made with this smartcard or kiosk": catalog.String("Gwnaed gormod o ymdrechion gyda'r cerdyn clyfar neu'r ciosg hwn"),
	"Wait a minute and try again, or start over with your smartcard.": catalog.String(
		"Arhoswch funud a rhowch gynnig arall arni, neu dechreuwch eto gyda'ch cerdyn clyfar."),
	"Your session has already finished":   catalog.String("Mae eich sesiwn eisoes wedi gorffen"),
	"Your smartcard could not be checked": catalog.String("Nid oedd modd gwirio eich cerdyn clyfar"),
	"Your smartcard could not be unlocked here. Please visit your Registration Authority (RA).": catalog.String(
		"Nid oedd modd datgloi eich cerdyn clyfar yma. Ewch at eich Awdurdod Cofrestru (RA)."),
	"Your smartcard is not registered for self-service unlock": catalog.String("Nid yw eich cerdyn clyfar wedi'i gofrestru ar gyfer datgloi drwy hunanwasanaeth"),
}
