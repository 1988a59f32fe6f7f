// Package timeline will order every event of the loss window and the
// incident itself into one story, each line traceable to its evidence
// (issue #10).
package timeline
