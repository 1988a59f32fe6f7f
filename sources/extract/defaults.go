package extract

import "github.com/salvagehq/salvage/evidence"

// A reference-shaped token after a booking word, in running text (a subject,
// a Stripe description): it must hold a digit, and lower-case letters may
// only be split from it by a dash or a space when both sides look like code
// ("ach 7k2q9", not "for 12").
const refAfterWord = `(?P<ref>[A-Z]{1,6}[-_ /]?[A-Z0-9]*[0-9][A-Z0-9]*` +
	`|[a-z]{1,6}-?[a-z0-9]*[0-9][a-z0-9]*` +
	`|[a-z]{1,6} (?:[0-9]+[a-z]|[a-z]+[0-9])[a-z0-9]*` +
	`|[0-9]{5,14})`

// Pieces of calendar titles. A person's name: two to four capitalised words,
// with the particles names carry; or "Surname, First".
const (
	// A name word has a lower-case letter ("DeShawn", "O'Neill"), so that
	// all-capital words ("POR PAGAR") are not taken for a name.
	nameWord   = `\p{Lu}(?:\p{Ll}|['’]\p{Lu})[\p{L}'’.\-]*`
	particle   = `(?:de|da|do|dos|das|del|della|di|du|van|von|der|den|la|le|y|e|bin|al|ter|ten|Ó|Ní|Mac|Nic)`
	personName = nameWord + `(?:\s+(?:` + particle + `\s+)*` + nameWord + `){1,3}`
	// "Sousa, Ana" or "de Almeida, João".
	surnameFirst = `(?:` + particle + `\s+)*` + nameWord + `(?:\s+` + nameWord + `)?,\s*` + nameWord + `(?:\s+` + nameWord + `)?`
	anyName      = `(?:` + surnameFirst + `|` + personName + `)`
	// A separator between the parts of a title: a middle dot, a bar, a
	// dash with spaces around it.
	titleSep = `(?:\s*[·|•–—]\s*|\s+-\s+)`
	// A status written before the title ("POR PAGAR – ", "CANCELLED: ").
	titlePrefix = `(?:\p{Lu}[\p{Lu} ]{2,20}\s*[–—:-]\s*)?`
	// An upper-case reference with a dash ("ACH-7K2Q9"; digits optional
	// because the title's shape says it is one), and a code in parentheses:
	// with a digit ("(ach td5x4)"), or two lower-case parts ("(ach zbbuc)").
	dashedRef    = `[A-Z]{2,6}-[A-Z0-9]{3,12}`
	codeInParens = `\((?P<ref>[A-Za-z]{1,6}[- ]?[A-Za-z0-9]*[0-9][A-Za-z0-9]*|[a-z]{2,6}[ -][a-z0-9]{4,10})\)`
)

// Defaults are the built-in rules, tried after a case's own. They read the
// common labelled layout of English confirmations ("Booking reference: …",
// "Name: …", "Vehicle: …", "Pick-up: …", "Return: …", "Total: €…"), a
// reference next to a booking word in several languages, and the status an
// email's subject or an event's title implies.
var DefaultRules = []evidence.RuleConfig{
	{
		// "Label: value" lines, in English, Portuguese, Spanish, French,
		// German and Italian.
		Name: "labelled confirmation",
		Labels: map[string][]string{
			"ref": {"booking reference", "booking ref", "booking number", "booking no", "booking nr", "booking id", "booking code",
				"reservation reference", "reservation number", "reservation no", "reservation nr", "reservation id", "reservation code",
				"confirmation number", "confirmation code", "confirmation no", "order number", "order no", "order id", "reference", "ref",
				"rental agreement", "rental number", "your reference",
				"referência da reserva", "referência", "número da reserva", "número de reserva", "n.º da reserva", "n.º de reserva", "código da reserva", "código de reserva",
				"referencia de la reserva", "referencia", "número de la reserva", "localizador", "código de reserva",
				"référence de réservation", "référence", "numéro de réservation", "n° de réservation",
				"buchungsnummer", "reservierungsnummer", "buchungscode", "referenz",
				"codice prenotazione", "numero prenotazione", "riferimento"},
			"name": {"name", "customer", "customer name", "guest", "guest name", "lead guest", "driver", "main driver", "renter", "hirer", "client",
				"nome", "cliente", "nome do cliente", "condutor", "condutor principal",
				"nombre", "nombre del cliente", "conductor",
				"nom", "nom du client", "conducteur",
				"kunde", "name des kunden", "fahrer", "mieter",
				"nome cliente", "conducente"},
			"email": {"email", "e-mail", "email address", "e-mail address", "mail", "correio eletrónico", "correo electrónico", "courriel", "adresse e-mail"},
			"phone": {"phone", "phone number", "telephone", "tel", "mobile", "mobile number", "cell",
				"telefone", "telemóvel", "contacto", "teléfono", "móvil", "téléphone", "portable", "telefon", "handy", "telefono", "cellulare"},
			"item": {"vehicle", "car", "model", "car model", "vehicle model", "room", "item", "resource", "unit", "boat", "bike", "van",
				"viatura", "veículo", "carro", "vehículo", "coche", "véhicule", "voiture", "fahrzeug", "veicolo", "auto"},
			"start": {"pick-up", "pickup", "pick up", "pick-up date", "pick-up date and time", "collection", "collect", "check-in", "check in", "start", "arrival", "from",
				"levantamento", "recolha", "início", "data de levantamento", "recogida", "entrega del vehículo", "prise en charge", "départ",
				"abholung", "mietbeginn", "ritiro", "inizio noleggio"},
			"end": {"return", "drop-off", "dropoff", "drop off", "return date", "return date and time", "check-out", "check out", "end", "until",
				"devolução", "entrega", "fim", "data de devolução", "devolución", "retour", "restitution", "rückgabe", "mietende", "riconsegna", "fine noleggio"},
			"amount": {"total", "total price", "total paid", "total due", "grand total", "amount", "amount due", "amount paid", "price", "total amount",
				"total a pagar", "valor", "valor total", "preço", "importe", "importe total", "precio", "montant", "montant total", "prix total",
				"gesamtbetrag", "betrag", "summe", "gesamtpreis", "totale", "importo", "prezzo totale"},
		},
	},
	// Calendar titles: the shapes fleet calendars use, the reference only
	// where the shape marks it.
	{
		Name: "calendar title", Sources: []string{"calendar"}, In: "subject",
		Patterns: []string{
			// [ACH-8ZRKB] Leonor Conceição - Tesla Model 3
			`^\s*` + titlePrefix + `\[(?P<ref>[^\]]{3,30})\]\s*(?P<name>` + anyName + `)` + titleSep + `(?P<item>.+?)\s*$`,
			// ACH-EREUG · Åsa Lindqvist · Tesla Model 3 (DA-75-PN); Walk-in ACH-5WQXR: DeShawn Kim – Qashqai
			`^\s*` + titlePrefix + `(?:[\p{L}-]+\s+)?(?P<ref>` + dashedRef + `)\s*(?::\s*|` + titleSep + `)(?P<name>` + anyName + `)` + titleSep + `(?P<item>.+?)\s*$`,
			// Reserva ACHJCQRQ José Luis Peña
			`^\s*` + titlePrefix + `(?i:reserva|booking|reservation|réservation|buchung|prenotazione)\s+(?P<ref>[A-Z0-9]{2,6}-?[A-Z0-9]{3,10})\s+(?P<name>` + anyName + `)\s*$`,
			// Mehmet Çelik – Qashqai; Joana Correia · Ford Transit Custom (SM-91-OX) (ach td5x4)
			`^\s*` + titlePrefix + `(?P<name>` + anyName + `)` + titleSep + `(?P<item>[^()]+?(?:\([^()]*\))?)\s*(?:` + codeInParens + `)?\s*$`,
			// 308 RR-58-BU / de Almeida, João; Transit GO-48-FH – Bárbara Carvalho (ach xqnq5)
			`^\s*` + titlePrefix + `(?P<item>[^/–—·|]+?)\s*(?:/|[–—])\s*(?P<name>` + anyName + `)\s*(?:` + codeInParens + `)?\s*$`,
		},
	},
	{
		Name: "reference after a booking word",
		Patterns: []string{
			`(?:\b(?i:booking|reservation|reserva|réservation|reservierung|buchung|prenotazione|boeking|rental|order|quote|quotation|orçamento|presupuesto|devis|angebot|preventivo)\b)` +
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
	// A customer asking: a booking requested, perhaps never confirmed.
	{
		Name: "enquiry", Sources: []string{"mail"}, Status: "requested",
		Subject: `(?i)\b(?:enquiry|inquiry|availability|available\?|quote|quotation|booking request|reservation request|` +
			`pedido|disponibilidade|orçamento|aluguer|reserva|solicitud|disponibilidad|presupuesto|alquiler|demande|disponibilité|devis|` +
			`anfrage|verfügbarkeit|angebot|mietwagen|richiesta|disponibilità|preventivo|noleggio)\b`,
	},
}

var defaults = withHints(mustCompile(DefaultRules))

// withHints gives the built-in patterns that scan whole texts the words one
// of which must appear for them to match, so most texts skip them.
func withHints(rules []*Rule) []*Rule {
	for _, r := range rules {
		switch r.Name {
		case "reference after a booking word":
			r.hints[0] = []string{"booking", "reservation", "reserva", "réservation", "reservierung", "buchung", "prenotazione", "boeking", "rental", "order"}
		case "cancellation":
			r.subjectHints = []string{"cancel", "anulad", "storn", "annul", "geannuleerd"}
		case "change":
			r.subjectHints = []string{"chang", "updat", "modifi", "amend", "reschedul", "alterad", "alteraç", "geändert", "änderung"}
		case "receipt":
			r.subjectHints = []string{"receipt", "payment", "recibo", "pagamento", "comprovativo", "quittung", "reçu"}
		case "confirmation":
			r.subjectHints = []string{"confirm", "bestätig"}
		case "enquiry":
			r.subjectHints = []string{"enquir", "inquir", "availab", "quot", "request", "pedido", "disponib", "orçamento", "aluguer",
				"reserva", "solicitud", "presupuesto", "alquiler", "demande", "devis", "anfrage", "verfügbar", "angebot", "mietwagen",
				"richiesta", "preventivo", "noleggio"}
		}
	}
	return rules
}

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
