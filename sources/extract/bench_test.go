package extract

import (
	"testing"

	"github.com/salvagehq/salvage/evidence"
)

var (
	benchCalendar = Input{Source: evidence.Calendar, Subject: "ACH-EREUG · Åsa Lindqvist · Tesla Model 3 (DA-75-PN)",
		Text: "Tel: +351214248924\nEmail: s.almeida@inbox.example\nDevolução: Aeroporto de Lisboa\nVoo TP9375 chega às 13h20"}
	benchMail = Input{Source: evidence.Mail, From: "reservas@atlantico-carhire.example", Subject: "Booking confirmed – ACH-7K2Q9",
		Text: "Dear Ana,\n\nThank you for booking with Atlântico Car Hire. Here are the details of your rental.\n\n" +
			"Booking reference: ACH-7K2Q9\nName: Ana Sousa\nEmail: ana.sousa@example.com\nPhone: +351 912 345 678\n" +
			"Vehicle: Renault Clio (AB-12-CD)\nPick-up: 2026-10-03 10:00, Lisbon Airport\nReturn: 2026-10-06 10:00, Lisbon Airport\n" +
			"Extras: GPS, child seat\nTotal: €1,184.50\n\nPlease bring your driving licence and the card used for payment.\n" +
			"If you need to change your booking, reply to this email or call us.\n\nAtlântico Car Hire · Avenida Dom João II, Lisboa\n+351 213 555 010\n"}
)

func BenchmarkExtractCalendar(b *testing.B) {
	x := newExtractor(b)
	for i := 0; i < b.N; i++ {
		x.Extract(benchCalendar)
	}
}

func BenchmarkExtractMail(b *testing.B) {
	x := newExtractor(b)
	for i := 0; i < b.N; i++ {
		x.Extract(benchMail)
	}
}
