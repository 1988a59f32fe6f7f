// Package reconcile will merge the evidence about one booking into one
// rebuilt booking, field by field, with where each value came from, the
// conflicts between sources and a confidence (issue #7). It reads evidence
// through evidence.Store and knows nothing of where it came from.
package reconcile
