package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources/extract"
	"github.com/salvagehq/salvage/sources/mail"
	"github.com/spf13/cobra"
)

type rulesTestCmd struct {
	*app
	source, subject string
}

func (a *app) rulesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Work on the extraction rules that read booking facts from text",
		Long: `The extraction rules read booking facts (reference, customer, vehicle,
dates, amount, status) from free text: an email's subject and body, a
calendar event's title and description, a Stripe payment's description.
A case's own rules ([[rules]] in salvage.toml) are tried first, then the
built-in ones; for each fact, the first rule that reads it wins.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c := &rulesTestCmd{app: a}
	test := &cobra.Command{
		Use:   "test FILE",
		Short: "Show what each rule reads from one message or text",
		Long: `Show what each extraction rule reads from one input, rule by rule, and the
facts that result, with the rule that set each. Use it to write rules for
your own templates: save a message as .eml (or paste the text in a file),
run this, adjust salvage.toml, run it again.

An email (.eml, or any file that starts with headers) is decoded as the mail
import decodes it: the text part (or the HTML turned into text), without the
earlier messages a reply quotes. Any other file is read as plain text for
--source (mail by default), with --subject as the subject or title.

The rules are the case's (--case) when there is one, else the built-in ones.`,
		Example: `  salvage rules test confirmation.eml
  salvage rules test --source calendar --subject "ACH-7K2Q9 · Ana Sousa · Renault Clio" description.txt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return c.run(cmd, args[0]) },
	}
	test.Flags().StringVar(&c.source, "source", "", "what the text is from: mail, calendar or stripe (default: mail)")
	test.Flags().StringVar(&c.subject, "subject", "", "with a plain text file: the subject or the event's title")
	cmd.AddCommand(test)
	return cmd
}

func (c *rulesTestCmd) run(cmd *cobra.Command, path string) error {
	cfg := evidence.DefaultConfig()
	where := "built-in rules only (no case at " + c.caseDir + ")"
	if s, err := c.openCase(cmd.Context()); err == nil {
		cfg = s.Config()
		where = fmt.Sprintf("the case's %d rule(s), then the built-in ones", len(cfg.Rules))
		s.Close()
	} else if !errors.Is(err, evidence.ErrNoCase) {
		return err
	}
	x, err := extract.New(cfg)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	source := evidence.Source(c.source)
	if source == "" {
		source = evidence.Mail
	}
	if !slices.Contains([]evidence.Source{evidence.Mail, evidence.Calendar, evidence.Stripe}, source) {
		return usagef("--source %q: want mail, calendar or stripe", c.source)
	}
	in := extract.Input{Source: source, Subject: c.subject, Text: string(raw)}
	out := cmd.OutOrStdout()
	if m, err := mail.Decode(raw); err == nil && c.source == "" && c.subject == "" {
		in = extract.Input{Source: evidence.Mail, Subject: m.Subject, Text: m.Reply()}
		if m.From != nil {
			in.From = strings.ToLower(m.From.Address)
		}
		fmt.Fprintf(out, "Email %q from %s\n", m.Subject, in.From)
		if len(m.Problems) > 0 {
			fmt.Fprintf(out, "  decoded in part: %s\n", strings.Join(m.Problems, "; "))
		}
		if cut := nonBlankLines(m.Text) - nonBlankLines(m.Reply()); cut > 0 {
			fmt.Fprintf(out, "  %d quoted line(s) of earlier messages left out\n", cut)
		}
	} else {
		fmt.Fprintf(out, "Text from %s (%s)\n", path, source)
	}
	fmt.Fprintf(out, "Rules: %s\n\n", where)
	loc := cfg.Location()
	reports, res := x.Explain(in)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tRULE\tREADS")
	for i, r := range reports {
		name := r.Name
		if !r.Builtin {
			name += " (yours)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", i+1, name, ruleSummary(r))
	}
	tw.Flush()
	fmt.Fprintln(out, "\nFacts (for each, the first rule that reads it):")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	any := false
	for _, field := range append(slices.Clone(extract.Fields), "status") {
		v := extract.FactText(res.Facts, field, loc)
		if v == "" || (field == "currency" && res.Facts.AmountMinor != nil) {
			continue
		}
		any = true
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", field, v, res.By[field])
	}
	tw.Flush()
	if !any {
		fmt.Fprintln(out, "  none: no rule reads anything here")
	}
	if len(res.Problems) > 0 {
		fmt.Fprintln(out, "\nValues a rule matched but could not read:")
		for _, p := range res.Problems {
			fmt.Fprintf(out, "  %s\n", p)
		}
	}
	return nil
}

func ruleSummary(r extract.RuleReport) string {
	if !r.Applies {
		return "does not apply: " + r.WhyNot
	}
	var parts []string
	for _, f := range extract.Fields {
		if v, ok := r.Facts[f]; ok {
			parts = append(parts, fmt.Sprintf("%s=%q", f, v))
		}
	}
	if r.Status != "" {
		parts = append(parts, "status="+string(r.Status))
	}
	if len(r.Problems) > 0 {
		parts = append(parts, fmt.Sprintf("(%d value(s) it could not read)", len(r.Problems)))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, " ")
}

// nonBlankLines counts the lines of s with something on them.
func nonBlankLines(s string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			n++
		}
	}
	return n
}
