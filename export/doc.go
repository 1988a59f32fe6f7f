// Package export holds one folder per output salvage writes: the review
// workbook (xlsx), the restore SQL, the timeline report and plain csv/jsonl
// (issues #8, #9, #10). Exporters know nothing of where evidence came from.
package export
