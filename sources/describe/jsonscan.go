package describe

import "unicode/utf8"

// topString is the string value of key at the top level of a JSON
// object, read without decoding the rest: a Stripe object is a few
// kilobytes of JSON and only its description makes its title. ok is
// false for anything but the plain form Stripe writes (an escape in the
// value or a key, a control character or invalid UTF-8 in a string, a
// value of another type under key, deep nesting, bad JSON): the caller
// then decodes it all, and gets what it always got.
func topString(raw []byte, key string) (value string, found, ok bool) {
	s := jsonScan{b: raw}
	s.ws()
	if !s.eat('{') {
		return "", false, false
	}
	s.ws()
	if s.eat('}') {
		return "", false, s.end()
	}
	for {
		s.ws()
		k, plain := s.str()
		if !plain {
			return "", false, false
		}
		s.ws()
		if !s.eat(':') {
			return "", false, false
		}
		s.ws()
		switch {
		case k == key && s.word("null"):
			// As the decoder does: null leaves the value as it was.
		case k == key && s.peek() == '"':
			v, plain := s.str()
			if !plain {
				return "", false, false
			}
			value, found = v, true
		case k == key:
			return "", false, false // not a string: the decoder decides
		case len(k) == len(key) && equalFoldASCII(k, key):
			return "", false, false // the decoder matches keys in any case
		case !s.value(0):
			return "", false, false
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			return value, found, s.end()
		}
		return "", false, false
	}
}

// jsonScan reads JSON without building anything.
type jsonScan struct {
	b []byte
	i int
}

func (s *jsonScan) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *jsonScan) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *jsonScan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// end reports whether nothing but white space is left.
func (s *jsonScan) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// str reads a string without escapes, control characters or invalid
// UTF-8; plain is false for any other.
func (s *jsonScan) str() (v string, plain bool) {
	if !s.eat('"') {
		return "", false
	}
	start := s.i
	ascii := true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			if !ascii && !utf8.Valid(v) {
				return "", false
			}
			return string(v), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		s.i++
	}
	return "", false
}

// value skips one value, checking it is plain JSON.
func (s *jsonScan) value(depth int) bool {
	if depth > 64 {
		return false
	}
	switch c := s.peek(); {
	case c == '"':
		_, plain := s.str()
		return plain
	case c == '{' || c == '[':
		close := byte('}')
		if c == '[' {
			close = ']'
		}
		s.i++
		s.ws()
		if s.eat(close) {
			return true
		}
		for {
			s.ws()
			if c == '{' {
				if _, plain := s.str(); !plain {
					return false
				}
				s.ws()
				if !s.eat(':') {
					return false
				}
				s.ws()
			}
			if !s.value(depth + 1) {
				return false
			}
			s.ws()
			if s.eat(',') {
				continue
			}
			return s.eat(close)
		}
	case c == 't':
		return s.word("true")
	case c == 'f':
		return s.word("false")
	case c == 'n':
		return s.word("null")
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	}
	return false
}

func (s *jsonScan) word(w string) bool {
	if len(s.b)-s.i >= len(w) && string(s.b[s.i:s.i+len(w)]) == w {
		s.i += len(w)
		return true
	}
	return false
}

// number reads a number as JSON writes one: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonScan) number() bool {
	s.eat('-')
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		return false
	}
	if s.eat('.') && !s.digits() {
		return false
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

func (s *jsonScan) digits() bool {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
