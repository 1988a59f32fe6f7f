package evidence

import gojson "github.com/goccy/go-json"

// The facts tests, which build records from the committed scenario through
// the importers, are of package evidence_test: these reach what they test.

// DecodeFacts is decodeFacts.
var DecodeFacts = decodeFacts

// CommonStrings gives DecodeFactsIn the strings records share.
type CommonStrings = commonStrings

// DecodeFactsIn is decodeFactsIn.
var DecodeFactsIn = decodeFactsIn

// DecodesItself reports whether decodeFacts reads b without gojson, and
// sets f to what it reads.
func DecodesItself(b []byte, f *Facts) bool {
	*f = Facts{}
	d := factsDecoder{b: b}
	return d.facts(f)
}

// StoredFacts is f in the form Prepare stores.
func StoredFacts(f Facts) ([]byte, error) { return gojson.Marshal(f.normalize()) }

// NormalizeFacts is f as the store keeps it.
func NormalizeFacts(f Facts) Facts { return f.normalize() }
