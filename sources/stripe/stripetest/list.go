package stripetest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// A filter parameter's kind.
type paramKind int

const (
	paramEqual       paramKind = iota + 1 // the object's field equals the value (an id, or an expanded object's id)
	paramRange                            // an integer field: NAME=ts or NAME[gt|gte|lt|lte]=ts
	paramEventType                        // events' type, * a wildcard
	paramEventTypes                       // events' types[], exact names, up to 20
	paramUnsupported                      // valid for Stripe, not implemented here
)

// listSpec describes one list endpoint of API 2023-10-16: its path, the
// object it lists, the scenario files that hold it, the permission a
// restricted key needs for it, and the filters it accepts besides limit,
// starting_after, ending_before and expand.
type listSpec struct {
	path   string
	object string
	file   string
	perm   string
	params map[string]paramKind
}

// listSpecs are the list endpoints the server serves. Filters are those of
// stripe-go v76's *ListParams (which follow API 2023-10-16). Permissions are
// the rak_ names of Stripe's restricted-key screen.
var listSpecs = []listSpec{
	{"/v1/customers", "customer", "customers", "rak_customer_read",
		map[string]paramKind{"created": paramRange, "email": paramEqual, "test_clock": paramEqual}},
	{"/v1/payment_intents", "payment_intent", "payment_intents", "rak_payment_intent_read",
		map[string]paramKind{"created": paramRange, "customer": paramEqual}},
	{"/v1/charges", "charge", "charges", "rak_charge_read",
		map[string]paramKind{"created": paramRange, "customer": paramEqual, "payment_intent": paramEqual, "transfer_group": paramEqual}},
	{"/v1/refunds", "refund", "refunds", "rak_refund_read",
		map[string]paramKind{"created": paramRange, "charge": paramEqual, "payment_intent": paramEqual}},
	{"/v1/checkout/sessions", "checkout.session", "checkout_sessions", "rak_checkout_session_read",
		map[string]paramKind{"created": paramRange, "customer": paramEqual, "customer_details[email]": paramEqual,
			"payment_intent": paramEqual, "payment_link": paramEqual, "status": paramEqual, "subscription": paramEqual}},
	{"/v1/events", "event", "events", "rak_event_read",
		map[string]paramKind{"created": paramRange, "delivery_success": paramUnsupported, "type": paramEventType, "types": paramEventTypes}},
	{"/v1/invoices", "invoice", "invoices", "rak_invoice_read",
		map[string]paramKind{"created": paramRange, "collection_method": paramEqual, "customer": paramEqual,
			"due_date": paramRange, "status": paramEqual, "subscription": paramEqual}},
}

func spec(path string) *listSpec {
	for i := range listSpecs {
		if listSpecs[i].path == path {
			return &listSpecs[i]
		}
	}
	return nil
}

// Paths returns the list paths the server serves, sorted.
func Paths() []string {
	var ps []string
	for _, ls := range listSpecs {
		ps = append(ps, ls.path)
	}
	sort.Strings(ps)
	return ps
}

// Permission returns the restricted-key permission Stripe names in a 403
// for a list path ("" for an unknown path): rak_customer_read,
// rak_payment_intent_read, rak_charge_read, rak_refund_read,
// rak_checkout_session_read, rak_event_read, rak_invoice_read.
func Permission(path string) string {
	if ls := spec(path); ls != nil {
		return ls.perm
	}
	return ""
}

// item is one object of a list.
type item struct {
	id      string
	created int64
	raw     json.RawMessage
}

// list holds a path's objects newest first.
type list struct {
	spec  *listSpec
	items []item
	pos   map[string]int // id → index in items

	fieldsOnce sync.Once
	fields     []map[string]json.RawMessage // top-level fields of items[i], for filters, parsed on first use
}

func newList(ls listSpec, objs []json.RawMessage) (*list, error) {
	l := &list{spec: &ls, pos: map[string]int{}}
	for i, raw := range objs {
		var head struct {
			ID      *string `json:"id"`
			Created *int64  `json:"created"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("%s object %d: %v", ls.path, i, err)
		}
		if head.ID == nil || *head.ID == "" {
			return nil, fmt.Errorf("%s object %d: no string id", ls.path, i)
		}
		if head.Created == nil {
			return nil, fmt.Errorf("%s object %s: no integer created", ls.path, *head.ID)
		}
		if _, dup := l.pos[*head.ID]; dup {
			return nil, fmt.Errorf("%s: object %s appears twice", ls.path, *head.ID)
		}
		l.pos[*head.ID] = i
		l.items = append(l.items, item{id: *head.ID, created: *head.Created, raw: raw})
	}
	// Newest first; the same second keeps the load order.
	sort.SliceStable(l.items, func(i, j int) bool { return l.items[i].created > l.items[j].created })
	for i, it := range l.items {
		l.pos[it.id] = i
	}
	return l, nil
}

// fieldsOf returns the top-level fields of items[i].
func (l *list) fieldsOf(i int) map[string]json.RawMessage {
	l.fieldsOnce.Do(func() {
		l.fields = make([]map[string]json.RawMessage, len(l.items))
		for i, it := range l.items {
			_ = json.Unmarshal(it.raw, &l.fields[i]) // parsed once already in newList
		}
	})
	return l.fields[i]
}

// query is a parsed list request.
type query struct {
	limit         int
	startingAfter string
	endingBefore  string
	filters       []func(fields map[string]json.RawMessage) bool
}

var (
	indexRE  = regexp.MustCompile(`^([a-z_]+)\[(\d*)\]$`)     // types[] or types[3]
	rangeRE  = regexp.MustCompile(`^([a-z_]+)\[([a-z_]+)\]$`) // created[gte]
	rangeOps = map[string]func(v, bound int64) bool{
		"gt":  func(v, b int64) bool { return v > b },
		"gte": func(v, b int64) bool { return v >= b },
		"lt":  func(v, b int64) bool { return v < b },
		"lte": func(v, b int64) bool { return v <= b },
	}
)

// parseQuery checks a list request's parameters as Stripe does and returns
// the request, or the 400 Stripe would answer.
func parseQuery(ls *listSpec, raw string) (*query, *stripeError) {
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return nil, paramError("", fmt.Sprintf("Invalid query string: %v", err))
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	q := &query{limit: 10}
	var eventType string
	var eventTypes []string
	for _, k := range keys {
		v := vals[k][len(vals[k])-1] // the last one wins, as at Stripe
		switch k {
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, codeError("parameter_invalid_integer", "limit", "Invalid integer: "+v)
			}
			if n < 1 {
				return nil, codeError("parameter_invalid_integer", "limit", "This value must be greater than or equal to 1.")
			}
			if n > 100 {
				return nil, codeError("parameter_invalid_integer", "limit", "This value must be less than or equal to 100.")
			}
			q.limit = n
			continue
		case "starting_after":
			q.startingAfter = v
			continue
		case "ending_before":
			q.endingBefore = v
			continue
		}

		name, sub := k, ""
		if m := rangeRE.FindStringSubmatch(k); m != nil {
			name, sub = m[1], m[2]
		} else if m := indexRE.FindStringSubmatch(k); m != nil {
			name, sub = m[1], "[]"
		}
		switch {
		case name == "expand":
			if sub != "[]" {
				return nil, paramError(k, "Invalid array")
			}
			for _, e := range vals[k] {
				if !strings.HasPrefix(e, "data.") {
					return nil, paramError(k, fmt.Sprintf("This property cannot be expanded (%s).", e))
				}
			}
			continue
		case ls.params[k] == paramEqual:
			q.filters = append(q.filters, equalFilter(k, v))
			continue
		case ls.params[name] == paramRange && sub != "[]":
			f, serr := rangeFilter(name, sub, k, v)
			if serr != nil {
				return nil, serr
			}
			q.filters = append(q.filters, f)
			continue
		case ls.params[k] == paramEventType:
			eventType = v
			continue
		case ls.params[name] == paramEventTypes:
			if sub != "[]" {
				return nil, paramError(k, "Invalid array")
			}
			eventTypes = append(eventTypes, vals[k]...)
			continue
		case ls.params[k] == paramUnsupported:
			return nil, paramError(k, fmt.Sprintf("stripetest does not implement the %s filter of %s, which Stripe accepts.", k, ls.path))
		}
		return nil, codeError("parameter_unknown", k, "Received unknown parameter: "+k)
	}

	if q.startingAfter != "" && q.endingBefore != "" {
		return nil, paramError("ending_before", "You may only specify one of these parameters: ending_before, starting_after.")
	}
	if eventType != "" && len(eventTypes) > 0 {
		return nil, paramError("type", "You may only specify one of these parameters: type, types.")
	}
	if len(eventTypes) > 20 {
		return nil, paramError("types", "Invalid array: must have at most 20 elements.")
	}
	if eventType != "" {
		q.filters = append(q.filters, func(f map[string]json.RawMessage) bool { return wildcard(eventType, stringField(f["type"])) })
	}
	if len(eventTypes) > 0 {
		q.filters = append(q.filters, func(f map[string]json.RawMessage) bool { return slices.Contains(eventTypes, stringField(f["type"])) })
	}
	return q, nil
}

// equalFilter matches objects whose field key ("customer",
// "customer_details[email]") is v, or an expanded object with id v.
func equalFilter(key, v string) func(map[string]json.RawMessage) bool {
	path := strings.Split(strings.ReplaceAll(key, "]", ""), "[") // customer_details[email] → customer_details, email
	return func(fields map[string]json.RawMessage) bool {
		raw := fields[path[0]]
		for _, p := range path[1:] {
			var m map[string]json.RawMessage
			if json.Unmarshal(raw, &m) != nil {
				return false
			}
			raw = m[p]
		}
		if s := stringField(raw); s != "" {
			return s == v
		}
		var obj struct {
			ID string `json:"id"`
		}
		return json.Unmarshal(raw, &obj) == nil && obj.ID != "" && obj.ID == v
	}
}

// rangeFilter parses name=ts (op "") or name[op]=ts.
func rangeFilter(name, op, key, v string) (func(map[string]json.RawMessage) bool, *stripeError) {
	cmp := func(x, b int64) bool { return x == b }
	if op != "" {
		var ok bool
		if cmp, ok = rangeOps[op]; !ok {
			return nil, codeError("parameter_unknown", key, "Received unknown parameter: "+key)
		}
	}
	bound, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, codeError("parameter_invalid_integer", key, "Invalid integer: "+v)
	}
	return func(fields map[string]json.RawMessage) bool {
		var x int64
		if json.Unmarshal(fields[name], &x) != nil {
			return false
		}
		return cmp(x, bound)
	}, nil
}

// stringField returns a JSON string's value, "" for anything else.
func stringField(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// wildcard matches name against a pattern in which * stands for any run of
// characters ("charge.*", "*.succeeded").
func wildcard(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(name, p)
		if i < 0 {
			return false
		}
		name = name[i+len(p):]
	}
	return strings.HasSuffix(name, parts[len(parts)-1])
}

// page returns the page a query asks for and whether more objects lie
// beyond it in the direction of paging.
func (l *list) page(q *query) ([]item, bool, *stripeError) {
	match := func(i int) bool {
		for _, f := range q.filters {
			if !f(l.fieldsOf(i)) {
				return false
			}
		}
		return true
	}
	cursor, param := q.startingAfter, "starting_after"
	if q.endingBefore != "" {
		cursor, param = q.endingBefore, "ending_before"
	}
	start, end := 0, len(l.items) // the window to take matching objects from
	if cursor != "" {
		i, ok := l.pos[cursor]
		if !ok {
			return nil, false, codeError("resource_missing", param, fmt.Sprintf("No such %s: '%s'", l.spec.object, cursor))
		}
		if param == "starting_after" {
			start = i + 1
		} else {
			end = i
		}
	}
	var cand []item
	for i := start; i < end; i++ {
		if match(i) {
			cand = append(cand, l.items[i])
		}
	}
	if len(cand) <= q.limit {
		return cand, false, nil
	}
	if param == "ending_before" && cursor != "" {
		// The objects just newer than the cursor, still newest first.
		return cand[len(cand)-q.limit:], true, nil
	}
	return cand[:q.limit], true, nil
}
