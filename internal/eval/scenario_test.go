package eval

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/salvagehq/salvage/internal/scenariotest"
	"github.com/salvagehq/salvage/reconcile"
)

// TestCommittedScenarioMeetsGoals imports the committed scenario in
// process (the demo's imports), reconciles every booking and compares with
// the ground truth: precision ≥ 0.99, recall ≥ 0.98, each key field ≥ 0.98
// right (a value left blank and flagged as missing is not a wrong one),
// no silent error, at most 15 % flagged. make eval prints the same report,
// and the one for a generated 5,000-booking scenario.
func TestCommittedScenarioMeetsGoals(t *testing.T) {
	dir := filepath.Join("..", "..", "fixtures", "scenario")
	records, cfg := scenariotest.Records(t, dir)
	truth, err := ReadTruth(dir)
	if err != nil {
		t.Fatal(err)
	}
	res := reconcile.Reconcile(records, reconcile.Options{Config: cfg})
	r := Compare(truth, res.Bookings)
	r.Check(DefaultGoals)
	var out strings.Builder
	r.WriteText(&out)
	t.Log("\n" + out.String())
	if !r.Met() {
		t.Errorf("goals missed: %v", r.Missed())
	}
}
