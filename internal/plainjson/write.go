package plainjson

import (
	"encoding/binary"
	"strings"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string, escaped byte for byte as an
// encoding/json Encoder with SetEscapeHTML(false) escapes it: quotes,
// backslashes and control characters (\b, \f, \n, \r and \t by name),
// U+2028 and U+2029; each byte of invalid UTF-8 becomes U+FFFD. The string
// never spans lines.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = AppendEscaped(b, s)
	return append(b, '"')
}

// AppendStringHTML is AppendString with '<', '>' and '&' escaped too, as
// json.Marshal writes strings.
func AppendStringHTML(b []byte, s string) []byte {
	b = append(b, '"')
	for {
		i := strings.IndexAny(s, "<>&")
		if i < 0 {
			break
		}
		b = AppendEscaped(b, s[:i])
		b = append(b, '\\', 'u', '0', '0', hexDigits[s[i]>>4], hexDigits[s[i]&0xf])
		s = s[i+1:]
	}
	b = AppendEscaped(b, s)
	return append(b, '"')
}

// AppendEscaped appends the body of AppendString's string, without the
// quotes. Escaping is per character, so the pieces of a string may be
// escaped one by one.
func AppendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Most of what grantd writes is plain ASCII: skip it eight bytes
		// at a time.
		for i+8 <= len(s) && plain8(load8(s, i)) {
			i += 8
		}
		if i >= len(s) || i > len(s)-8 && len(s) >= 8 && plain8(load8(s, len(s)-8)) {
			break // the last eight bytes, read again, are plain too
		}
		c := s[i]
		if plainByte(c) {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default: // other control characters
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(append(b, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(b, s[start:]...)
}

// Plain reports whether p stands for itself inside a JSON string written
// by AppendString: printable ASCII other than a quote or a backslash.
func Plain(p []byte) bool {
	for ; len(p) >= 8; p = p[8:] {
		if !plain8(binary.LittleEndian.Uint64(p)) {
			return false
		}
	}
	for _, c := range p {
		if !plainByte(c) {
			return false
		}
	}
	return true
}

// plainByte reports whether c stands for itself in a JSON string:
// printable ASCII other than a quote or a backslash (plain8 tests eight
// at once).
func plainByte(c byte) bool {
	return c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\'
}

const ones, highs = 0x0101010101010101, 0x8080808080808080

// plain8 reports whether none of the eight bytes of x needs a look
// (plainByte of each). Each term below sets the high bit of some byte
// exactly when x has a byte it looks for: under 0x20, of 0x80 or more,
// a quote, a backslash.
func plain8(x uint64) bool {
	return ((x-0x20*ones)&^x|x|equal8(x, '"')|equal8(x, '\\'))&highs == 0
}

// equal8 sets a high bit when some byte of x is c (a zero byte of x^c).
func equal8(x uint64, c byte) uint64 {
	y := x ^ (uint64(c) * ones)
	return (y - ones) &^ y
}

// load8 reads the eight bytes of s from i on, little-endian.
func load8(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
