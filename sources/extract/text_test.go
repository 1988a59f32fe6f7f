package extract

import "testing"

func TestPlainText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain text is left alone", "Ref: ACH-7K2Q9\nTel: +351 912 345 678", "Ref: ACH-7K2Q9\nTel: +351 912 345 678"},
		{"a < in plain text is not HTML", "Total < €100, 2 < 3", "Total < €100, 2 < 3"},
		{"Google's description editor", `Tel: +351214248924<br>Email: <a href="mailto:s.almeida@inbox.example">s.almeida@inbox.example</a><br>Devolução: Aeroporto de Lisboa`,
			"Tel: +351214248924\nEmail: s.almeida@inbox.example\nDevolução: Aeroporto de Lisboa"},
		{"paragraphs and entities", "<p>Booking reference: ACH&#8209;7K2Q9</p><p>Total: &euro;1,184.50&nbsp;</p>",
			"Booking reference: ACH\u20117K2Q9\nTotal: €1,184.50"},
		{"tables become lines", "<table><tr><td>Pick-up:</td><td>2026-10-03 10:00</td></tr><tr><td>Return:</td><td>2026-10-06</td></tr></table>",
			"Pick-up: 2026-10-03 10:00\nReturn: 2026-10-06"},
		{"two-cell rows are label and value", `<table><tr><th align=left>Reservation no.</th><td>ACH 53X6Q</td></tr><tr><th>Customer</th><td>In&#234;s Gouveia</td></tr><tr><td colspan="2">Times are Lisbon local time.</td></tr></table>`,
			"Reservation no.: ACH 53X6Q\nCustomer: Inês Gouveia\nTimes are Lisbon local time."},
		{"scripts and styles are dropped", "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body><div>Name: Ana Sousa</div></body></html>",
			"Name: Ana Sousa"},
	}
	for _, tt := range tests {
		if got := PlainText(tt.in); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

// FuzzPlainText: any input gives text, never a panic.
func FuzzPlainText(f *testing.F) {
	f.Add("<p>a<br>b</p>")
	f.Add("<table><tr><td>x")
	f.Add("plain")
	f.Fuzz(func(t *testing.T, s string) { PlainText(s) })
}
