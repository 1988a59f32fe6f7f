package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/export/xlsx"
	"github.com/spf13/cobra"
)

func (a *app) reviewCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "review",
		Short: "Read a reviewed workbook back into the case",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.reviewImportCommand())
	return cmd
}

func (a *app) reviewImportCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "import WORKBOOK.xlsx",
		Short: "Read the Decision, Notes and corrected cells of a reviewed workbook into the case",
		Long: `Read a review workbook (written by salvage export xlsx, then edited in
Excel, LibreOffice or Google Sheets and saved as .xlsx) back into the case:
the Decision (approve, reject, fix) and Notes of every Bookings row, and
every cell the reviewer corrected in Customer, Email, Phone, Item, Start,
End or Amount. Each change is recorded with the time it was imported; the
restore SQL (salvage export sql) then includes the approved and fixed
bookings, with their corrections.

Rows may be sorted, filtered and columns moved: rows are matched by the
booking's reference and a hidden key salvage wrote. Nothing is read if
anything is wrong: a date that is not a date, a reference that was changed
or is not in the case, an unknown decision, or a workbook from another case.
Every problem is listed with its sheet, row and column.

Importing the same workbook again changes nothing. A newer export keeps the
decisions already imported.`,
		Example: `  salvage export xlsx --out review.xlsx
  (review it in a spreadsheet program, save)
  salvage review import review.xlsx`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			s, err := a.openCase(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			id, err := s.CaseID(ctx)
			if err != nil {
				return err
			}
			known := map[string]bool{}
			for b, err := range s.BookingBriefs(ctx) {
				if err != nil {
					return err
				}
				known[b.Ref] = true
			}
			if len(known) == 0 {
				return errors.New("the case has no bookings: run salvage reconcile, then salvage export xlsx")
			}
			reviews, err := xlsx.ReadReview(bytes.NewReader(data), xlsx.ReviewCase{
				ID: id, Zone: s.Config().Location(), Known: func(ref string) bool { return known[ref] },
			})
			if err != nil {
				return fmt.Errorf("review import %s: %w", args[0], err)
			}
			sum := sha256.Sum256(data)
			now := a.now()
			for i := range reviews {
				reviews[i].DecidedAt, reviews[i].Workbook = now, hex.EncodeToString(sum[:])
			}
			changed, err := s.ApplyReviews(ctx, reviews)
			if err != nil {
				return err
			}
			return printReviewImport(cmd, args[0], reviews, changed)
		},
	}
}

// printReviewImport says what the import changed and what the review now
// holds.
func printReviewImport(cmd *cobra.Command, file string, reviews []evidence.Review, changed []string) error {
	w := cmd.OutOrStdout()
	by := map[string]int{}
	corrected, undecided := 0, 0
	for _, r := range reviews {
		d := r.Decision
		if d == "" {
			d = "undecided"
		}
		by[d]++
		if len(r.Corrections) > 0 {
			corrected++
			if r.Decision == "" {
				undecided++
			}
		}
	}
	fmt.Fprintf(w, "review import %s: %d %s read, %d changed in the case\n", file, len(reviews), plural(len(reviews), "booking", "bookings"), len(changed))
	var parts []string
	for _, d := range append(slices.Clone(evidence.Decisions), "undecided") {
		if by[d] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", d, by[d]))
		}
	}
	fmt.Fprintf(w, "  decisions    %s\n", strings.Join(parts, " · "))
	fmt.Fprintf(w, "  corrected    %d %s\n", corrected, plural(corrected, "booking", "bookings"))
	if undecided > 0 {
		fmt.Fprintf(w, "  note: %d corrected %s no decision yet; the restore SQL leaves them out until approved or fixed\n", undecided, plural(undecided, "booking has", "bookings have"))
	}
	if len(changed) > 0 && len(changed) <= 20 {
		fmt.Fprintf(w, "  changed      %s\n", strings.Join(changed, ", "))
	}
	return nil
}
