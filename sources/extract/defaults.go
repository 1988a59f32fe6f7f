package extract

import "github.com/salvagehq/salvage/evidence"

// A booking reference as written after a label: one token, or two when the
// second holds a digit ("ACH-7K2Q9", "ACH 7K2Q9", "HB/2026/0042", "#48213").
const labelledRef = `(?P<ref>#?[A-Za-z0-9][A-Za-z0-9._/-]*(?: [A-Za-z0-9]*[0-9][A-Za-z0-9]*)?)`

// A reference-shaped token after a booking word, in running text (a subject,
// a Stripe description): it must hold a digit, and lower-case letters may
// only be split from it by a dash or a space when both sides look like code
// ("ach 7k2q9", not "for 12").
const refAfterWord = `(?P<ref>[A-Z]{1,6}[-_ /]?[A-Z0-9]*[0-9][A-Z0-9]*` +
	`|[a-z]{1,6}-?[a-z0-9]*[0-9][a-z0-9]*` +
	`|[a-z]{1,6} (?:[0-9]+[a-z]|[a-z]+[0-9])[a-z0-9]*` +
	`|[0-9]{5,14})`

// Defaults are the built-in rules, tried after a case's own. They read the
// common labelled layout of English confirmations ("Booking reference: …",
// "Name: …", "Vehicle: …", "Pick-up: …", "Return: …", "Total: €…"), a
// reference next to a booking word in several languages, and the status an
// email's subject or an event's title implies.
var DefaultRules = []evidence.RuleConfig{
	{
		Name: "labelled confirmation",
		Patterns: []string{
			`(?im)^[ \t>*]*(?:booking|reservation|order|confirmation|rental)[ \t]*(?:reference|ref\.?|number|no\.?|nr\.?|id|code|#)[ \t]*[:#][ \t]*` + labelledRef,
			`(?im)^[ \t>*]*(?:name|customer|customer name|guest|lead guest|driver|main driver|renter|hirer)[ \t]*:[ \t]*(?P<name>[^\r\n:]{2,80}?)[ \t]*$`,
			`(?im)^[ \t>*]*e-?mail(?: address)?[ \t]*:[ \t]*(?P<email>[^\s@<>:]+@[^\s@<>]+\.[A-Za-z]{2,})`,
			`(?im)^[ \t>*]*(?:phone|telephone|tel\.?|mobile|cell)(?: number)?[ \t]*:[ \t]*(?P<phone>\+?[0-9(][0-9 ().\-/]{5,24}[0-9])`,
			`(?im)^[ \t>*]*(?:vehicle|car|model|room|item|resource|unit|boat|bike|van)[ \t]*:[ \t]*(?P<item>[^\r\n]{2,100}?)[ \t]*$`,
			`(?im)^[ \t>*]*(?:pick-?up|collection|collect|check-?in|start|arrival|from)(?: date)?(?: (?:and|&) time)?[ \t]*:[ \t]*(?P<start>[^\r\n]{6,80}?)[ \t]*$`,
			`(?im)^[ \t>*]*(?:return|drop-?off|check-?out|end|departure|until)(?: date)?(?: (?:and|&) time)?[ \t]*:[ \t]*(?P<end>[^\r\n]{6,80}?)[ \t]*$`,
			`(?im)^[ \t>*]*(?:total|total price|total paid|grand total|amount|amount due|amount paid|price)[ \t]*:[ \t]*(?P<amount>[^\r\n]{1,40}?)[ \t]*$`,
		},
	},
	{
		Name: "reference after a booking word",
		Patterns: []string{
			`(?:\b(?i:booking|reservation|reserva|réservation|reservierung|buchung|prenotazione|boeking|rental|order)\b)` +
				`[^A-Za-z0-9\r\n]{0,3}(?:(?i:no|nr|n\.?º|number|ref|reference|id)\b\.?)?[^A-Za-z0-9\r\n]{0,3}` + refAfterWord,
		},
	},
	// The status a subject or a title says. Order matters: a change or a
	// cancellation "of your confirmed booking" is a change or a cancellation.
	{
		Name: "cancellation", Sources: []string{"mail", "calendar"}, Status: "cancelled",
		Subject: `(?i)\b(?:cancel+(?:ed|ation)?|cancelad[ao]|cancelamento|anulad[ao]|storniert|stornierung|annul[ée]e?|annulation|geannuleerd)\b`,
	},
	{
		Name: "change", Sources: []string{"mail", "calendar"}, Status: "changed",
		Subject: `(?i)\b(?:chang(?:ed|e)|updated?|modifi(?:ed|cation)|amend(?:ed|ment)|reschedul(?:ed|e)|alterad[ao]|alteração|modificad[ao]|geändert|änderung|modifi[ée]e?)\b`,
	},
	{
		Name: "receipt", Sources: []string{"mail"}, Status: "paid",
		Subject: `(?i)\b(?:receipt|payment received|payment confirmation|recibo|pagamento recebido|comprovativo|quittung|reçu)\b`,
	},
	{
		Name: "confirmation", Sources: []string{"mail", "calendar"}, Status: "confirmed",
		Subject: `(?i)\b(?:confirm(?:ed|ation)?|confirmad[ao]|confirmação|bestätig(?:t|ung)|confirm[ée]e?)\b`,
	},
}

var defaults = mustCompile(DefaultRules)

func mustCompile(cs []evidence.RuleConfig) []*Rule {
	out := make([]*Rule, len(cs))
	for i, c := range cs {
		r, err := Compile(c)
		if err != nil {
			panic("built-in rule: " + err.Error())
		}
		out[i] = r
	}
	return out
}
