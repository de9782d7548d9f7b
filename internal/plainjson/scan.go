// Package plainjson reads the plain JSON of grantd's hottest requests by
// hand: objects of known members, strings without escapes. A decoder built
// on it takes the bodies nearly every caller sends and hands anything else
// to the general codec it stands in for, which then gives its own answer;
// each such decoder is tested against that codec on random bodies.
package plainjson

import "unicode/utf8"

// Scanner reads one JSON text from its start.
type Scanner struct {
	b []byte
	i int
}

// New returns a scanner at the start of b.
func New(b []byte) *Scanner { return &Scanner{b: b} }

func (s *Scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// Take consumes c after any white space, and reports whether it was there.
func (s *Scanner) Take(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// End reports whether nothing but white space is left.
func (s *Scanner) End() bool {
	s.space()
	return s.i == len(s.b)
}

// Members reads an object of known members: read reads the value of the
// member key and returns the member's bit and whether the value was read.
// A bit of 0 is a member read without bookkeeping (one the caller
// ignores); a member of any other bit seen twice ends the object.
func (s *Scanner) Members(read func(key []byte) (bit uint8, ok bool)) bool {
	var seen uint8
	return s.Object(func(key []byte) bool {
		bit, ok := read(key)
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}

// Object reads an object, calling member with each key after its colon
// to read the value; it stops at the first member that reports false.
func (s *Scanner) Object(member func(key []byte) bool) bool {
	if !s.Take('{') {
		return false
	}
	if s.Take('}') {
		return true
	}
	for {
		key, ok := s.Raw()
		if !ok || !s.Take(':') || !member(key) {
			return false
		}
		if s.Take('}') {
			return true
		}
		if !s.Take(',') {
			return false
		}
	}
}

// Strs reads an array of strings; an empty array is nil.
func (s *Scanner) Strs() ([]string, bool) {
	if !s.Take('[') {
		return nil, false
	}
	if s.Take(']') {
		return nil, true
	}
	var out []string
	for {
		v, ok := s.Str()
		if !ok {
			return nil, false
		}
		out = append(out, v)
		if s.Take(']') {
			return out, true
		}
		if !s.Take(',') {
			return nil, false
		}
	}
}

// Str reads a string as Raw does, and copies it.
func (s *Scanner) Str() (string, bool) {
	v, ok := s.Raw()
	return string(v), ok
}

// Raw reads a string without escapes or control characters, of valid
// UTF-8, and returns its bytes between the quotes.
func (s *Scanner) Raw() ([]byte, bool) {
	if !s.Take('"') {
		return nil, false
	}
	start := s.i
	ascii := true
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, ascii || utf8.Valid(v)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// Bool reads true or false.
func (s *Scanner) Bool() (v, ok bool) {
	switch {
	case s.literal("true"):
		return true, true
	case s.literal("false"):
		return false, true
	}
	return false, false
}

func (s *Scanner) literal(word string) bool {
	s.space()
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// MaxSkipDepth bounds the nesting Skip reads.
const MaxSkipDepth = 32

// Skip reads any one JSON value that the JSON grammar (RFC 8259) allows,
// nested at most MaxSkipDepth deep (arrays and objects); strings may hold escapes and any
// bytes from 0x20 up, as encoding/json's scanner takes them.
func (s *Scanner) Skip() bool { return s.skip(0) }

func (s *Scanner) skip(depth int) bool {
	if depth >= MaxSkipDepth {
		return false
	}
	s.space()
	if s.i == len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		// Keys are read as any other string here: encoding/json takes
		// a key of invalid UTF-8, which Object (for known members) does not.
		s.i++
		if s.Take('}') {
			return true
		}
		for {
			if !s.Take('"') || !s.quoted() || !s.Take(':') || !s.skip(depth+1) {
				return false
			}
			if s.Take('}') {
				return true
			}
			if !s.Take(',') {
				return false
			}
		}
	case c == '[':
		s.i++
		if s.Take(']') {
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			if s.Take(']') {
				return true
			}
			if !s.Take(',') {
				return false
			}
		}
	case c == '"':
		s.i++ // the opening quote
		return s.quoted()
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	}
	return s.literal("true") || s.literal("false") || s.literal("null")
}

// quoted reads the rest of a string, after its opening quote, with any
// escapes.
func (s *Scanner) quoted() bool {
	for s.i < len(s.b) {
		c := s.b[s.i]
		s.i++
		switch {
		case c == '"':
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if s.i == len(s.b) {
				return false
			}
			e := s.b[s.i]
			s.i++
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(s.b)-s.i < 4 {
					return false
				}
				for _, h := range s.b[s.i : s.i+4] {
					if !isHex(h) {
						return false
					}
				}
				s.i += 4
			default:
				return false
			}
		}
	}
	return false
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *Scanner) number() bool {
	s.take1('-')
	switch {
	case s.take1('0'):
	case s.digits() == 0:
		return false
	}
	if s.take1('.') && s.digits() == 0 {
		return false
	}
	if s.take1('e') || s.take1('E') {
		if !s.take1('+') {
			s.take1('-')
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

// take1 consumes c if it is the next byte, white space not skipped.
func (s *Scanner) take1(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *Scanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}
