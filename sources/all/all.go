// Package all is the one explicit list of salvage's importers, in the order
// `salvage import --help` shows them. There is no init() registration: an
// importer exists for the command line when it is listed here.
package all

import (
	"github.com/salvagehq/salvage/sources"
	"github.com/salvagehq/salvage/sources/calendar"
	"github.com/salvagehq/salvage/sources/mail"
	"github.com/salvagehq/salvage/sources/stripe"
	"github.com/salvagehq/salvage/sources/transcript"
)

// Importers returns a fresh instance of every importer.
func Importers() []sources.Importer {
	return []sources.Importer{
		stripe.New(),
		calendar.NewGCal(),
		calendar.NewICS(),
		mail.NewIMAP(),
		mail.NewFiles(),
		transcript.New(),
	}
}
