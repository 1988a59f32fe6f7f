package stripe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	json "github.com/goccy/go-json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/salvagehq/salvage/evidence"
	"github.com/salvagehq/salvage/sources"
	"github.com/salvagehq/salvage/sources/extract"
)

// fileReader imports exported files.
type fileReader struct {
	run      *sources.Run
	fr       *factsReader
	selected []objectType
	live     bool
	bars     map[string]sources.Bar
	// other holds the ids of objects of the other mode; modeless holds
	// objects that carry no mode (refunds), decided at the end by the mode
	// of the charge or payment they belong to.
	other    map[string]bool
	modeless []pendingObject
}

type pendingObject struct {
	rec evidence.Record
	obj *object
}

func (im *Importer) importFiles(ctx context.Context, run *sources.Run, fr *factsReader, selected []objectType, live bool) error {
	r := &fileReader{run: run, fr: fr, selected: selected, live: live, bars: map[string]sources.Bar{}, other: map[string]bool{}}
	defer func() {
		for _, b := range r.bars {
			b.Done()
		}
	}()
	for _, root := range im.from {
		files, err := listFiles(root)
		if err != nil {
			return err
		}
		if len(files) == 0 {
			run.Log.Warn("no Stripe export files (*.json, *.jsonl, *.ndjson, *.csv) found", "path", root)
		}
		for _, path := range files {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := r.file(ctx, path); err != nil {
				return err
			}
		}
	}
	for _, p := range r.modeless {
		var err error
		if r.other[string(p.obj.Charge)] || r.other[string(p.obj.PaymentIntent)] {
			err = run.Sink.Ignore(ctx, otherMode(r.live))
		} else {
			err = r.store(ctx, p.rec, p.obj)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

var exportExts = []string{".json", ".jsonl", ".ndjson", ".csv"}

// listFiles returns root if it is a file, or the export files below it in
// lexical order.
func listFiles(root string) ([]string, error) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{root}, nil
	}
	var out []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && slices.Contains(exportExts, strings.ToLower(filepath.Ext(path))) {
			out = append(out, path)
		}
		return nil
	})
	return out, err
}

func (r *fileReader) file(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return r.csv(ctx, path, f)
	case ".jsonl", ".ndjson":
		return r.lines(ctx, path, f)
	}
	br := bufio.NewReaderSize(f, 1<<16)
	first, err := firstByte(br)
	if err != nil {
		return r.reject(ctx, path, nil, fmt.Sprintf("read: %v", err))
	}
	switch first {
	case '[':
		return r.array(ctx, path, br)
	case '{':
		// A list page, or one object per line that happens to be named
		// .json: tell them apart by the first line.
		data, err := io.ReadAll(br)
		if err != nil {
			return err
		}
		if isJSONLines(data) {
			return r.lines(ctx, path, bytes.NewReader(data))
		}
		return r.document(ctx, path, data)
	}
	return r.reject(ctx, path, nil, "not JSON: a Stripe export starts with { or [")
}

func firstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if b == 0xEF { // a byte-order mark
			br.ReadByte()
			br.ReadByte()
			continue
		}
		if !strings.ContainsRune(" \t\r\n", rune(b)) {
			br.UnreadByte()
			return b, nil
		}
	}
}

func isJSONLines(data []byte) bool {
	line, rest, ok := bytes.Cut(bytes.TrimSpace(data), []byte("\n"))
	return ok && json.Valid(bytes.TrimSpace(line)) && len(bytes.TrimSpace(rest)) > 0 && bytes.TrimSpace(rest)[0] == '{'
}

// document is a list response ({"object": "list", "data": [...]}) or one
// object.
func (r *fileReader) document(ctx context.Context, path string, data []byte) error {
	var head struct {
		Object string            `json:"object"`
		Data   []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return r.reject(ctx, path, data, "not a Stripe list or object: "+err.Error())
	}
	if head.Object != "list" {
		return r.object(ctx, data, path)
	}
	for i, raw := range head.Data {
		if err := r.object(ctx, raw, fmt.Sprintf("%s#data[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}

// array streams a JSON array of objects, so a large export never has to fit
// in memory.
func (r *fileReader) array(ctx context.Context, path string, rd io.Reader) error {
	dec := json.NewDecoder(rd)
	if _, err := dec.Token(); err != nil {
		return r.reject(ctx, path, nil, err.Error())
	}
	for i := 0; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return r.reject(ctx, path, nil, fmt.Sprintf("element %d: %v (the rest of the file is not read)", i, err))
		}
		if err := r.object(ctx, raw, fmt.Sprintf("%s#[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}

// lines reads one object per line.
func (r *fileReader) lines(ctx context.Context, path string, rd io.Reader) error {
	br := bufio.NewReaderSize(rd, 1<<16)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if t := bytes.TrimSpace(line); len(t) > 0 {
			if e := r.object(ctx, t, fmt.Sprintf("%s:%d", path, n)); e != nil {
				return e
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// object stores one raw object, ignores it when of the other mode or of a
// type not selected, and keeps it as rejected when it cannot be read.
func (r *fileReader) object(ctx context.Context, raw []byte, locator string) error {
	rec, o, err := r.fr.record(raw, "file", locator)
	if err != nil {
		return r.reject(ctx, locator, raw, err.Error())
	}
	return r.put(ctx, rec, o)
}

func (r *fileReader) put(ctx context.Context, rec evidence.Record, o *object) error {
	t, _ := typeByObject(o.Object)
	if !slices.ContainsFunc(r.selected, func(s objectType) bool { return s.name == t.name }) {
		return nil
	}
	switch {
	case o.otherMode(r.live):
		r.other[o.ID] = true
		return r.run.Sink.Ignore(ctx, otherMode(r.live))
	case o.Livemode == nil && o.Object != "event":
		r.modeless = append(r.modeless, pendingObject{rec, o})
		return nil
	}
	return r.store(ctx, rec, o)
}

func (r *fileReader) store(ctx context.Context, rec evidence.Record, o *object) error {
	t, _ := typeByObject(o.Object)
	bar, ok := r.bars[t.name]
	if !ok {
		bar = r.run.Progress.Bar("stripe "+t.name, 0)
		r.bars[t.name] = bar
	}
	bar.Add(1)
	return r.run.Sink.Put(ctx, rec)
}

func (r *fileReader) reject(ctx context.Context, locator string, raw []byte, reason string) error {
	if raw == nil {
		raw = []byte{}
	}
	return r.run.Sink.Reject(ctx, evidence.Rejected{Source: evidence.Stripe, Via: "file", Locator: locator, Reason: reason, Raw: raw})
}

// csv reads the Dashboard's payments export: one charge per row, amounts in
// major units, metadata as "<key> (metadata)" columns.
func (r *fileReader) csv(ctx context.Context, path string, f io.Reader) error {
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1 // a broken quote must be rejected, not read leniently
	header, err := cr.Read()
	if err != nil {
		return r.reject(ctx, path, data, "not a CSV export: "+err.Error())
	}
	headerLine := data[:cr.InputOffset()]
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	if _, ok := col["id"]; !ok {
		return r.reject(ctx, path, headerLine, `not a Stripe payments export: no "id" column`)
	}
	for line := 2; ; line++ {
		start := cr.InputOffset()
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		raw := append(append([]byte{}, headerLine...), data[start:cr.InputOffset()]...)
		locator := fmt.Sprintf("%s:%d", path, line)
		if err != nil {
			if err := r.reject(ctx, locator, raw, err.Error()); err != nil {
				return err
			}
			continue
		}
		rec, o, err := r.csvRow(row, col, header, raw, locator)
		if err != nil {
			err = r.reject(ctx, locator, raw, err.Error())
		} else {
			err = r.put(ctx, rec, o)
		}
		if err != nil {
			return err
		}
	}
}

var csvTimeLayouts = []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05Z"}

// csvRow reads one row as the charge it describes, through the same facts
// as a charge from the API.
func (r *fileReader) csvRow(row []string, col map[string]int, header []string, raw []byte, locator string) (evidence.Record, *object, error) {
	get := func(names ...string) string {
		for _, n := range names {
			if i, ok := col[n]; ok && i < len(row) {
				if v := strings.TrimSpace(row[i]); v != "" {
					return v
				}
			}
		}
		return ""
	}
	o := &object{ID: get("id"), Currency: strings.ToLower(get("currency")), Metadata: map[string]string{}}
	if o.ID == "" {
		return evidence.Record{}, nil, errors.New("no id")
	}
	switch {
	case strings.HasPrefix(o.ID, "pi_"):
		o.Object = "payment_intent"
	default: // ch_, py_: the export's rows are charges
		o.Object = "charge"
	}
	live := !strings.EqualFold(get("mode"), "test")
	o.Livemode = &live
	cur := strings.ToUpper(o.Currency)
	if cur == "" {
		cur = r.run.Config.Case.Currency
		o.Currency = strings.ToLower(cur)
	}
	amount, err := csvMoney(get("amount"), cur)
	if err != nil {
		return evidence.Record{}, nil, fmt.Errorf("Amount: %w", err)
	}
	refunded, err := csvMoney(get("amount refunded"), cur)
	if err != nil {
		return evidence.Record{}, nil, fmt.Errorf("Amount Refunded: %w", err)
	}
	o.Amount, o.AmountRefunded = amount, refunded
	captured := !strings.EqualFold(get("captured"), "false")
	o.Captured = &captured
	switch status := strings.ToLower(get("status")); status {
	case "paid", "succeeded", "refunded", "partially refunded", "partially_refunded", "uncaptured":
		o.Status = "succeeded"
		if status == "uncaptured" {
			captured = false
		}
		if captured && amount != nil {
			o.AmountCaptured = amount
		}
		full := status == "refunded" || (refunded != nil && amount != nil && *refunded >= *amount && *amount > 0)
		o.Refunded = &full
	case "failed":
		o.Status = "failed"
	default:
		o.Status = status
	}
	name, email := get("card name", "customer name"), get("customer email")
	if name == "" {
		name = get("customer description")
	}
	o.BillingDetails = &contact{Name: name, Email: email}
	o.Customer, o.PaymentIntent, o.Invoice = ref(get("customer id")), ref(get("paymentintent id", "payment intent id")), ref(get("invoice id"))
	o.Description, o.StatementDescriptor = get("description"), get("statement descriptor")
	for i, h := range header {
		if k, ok := strings.CutSuffix(strings.TrimSpace(h), " (metadata)"); ok && i < len(row) && strings.TrimSpace(row[i]) != "" {
			o.Metadata[k] = strings.TrimSpace(row[i])
		}
	}
	rec := evidence.Record{ID: "stripe:" + o.ID, Source: evidence.Stripe, Via: "csv", Kind: o.Object, Zone: "UTC", Raw: raw, Locator: locator}
	if c := get("created (utc)", "created date (utc)", "created"); c != "" {
		for _, l := range csvTimeLayouts {
			if t, err := time.Parse(l, c); err == nil {
				rec.OccurredAt = t.UTC()
				o.Created = t.Unix()
				break
			}
		}
		if rec.OccurredAt.IsZero() {
			return evidence.Record{}, nil, fmt.Errorf("Created (UTC) %q: not a date-time", c)
		}
	}
	rec.Facts = r.fr.facts(o)
	return rec, o, nil
}

// csvMoney reads an export's amount ("184.50", "1,184.50") in minor units.
func csvMoney(s, cur string) (*int64, error) {
	if s == "" {
		return nil, nil
	}
	v, _, err := extract.ParseAmount(s, cur)
	if err != nil {
		return nil, err
	}
	return &v, nil
}
