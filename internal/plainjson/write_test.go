package plainjson

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// marshal is encoding/json's string, with or without html escapes.
func marshal(t testing.TB, s string, html bool) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(html)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func checkString(t testing.TB, s string) {
	if got, want := AppendString(nil, s), marshal(t, s, false); !bytes.Equal(got, want) {
		t.Fatalf("%q written as %s; encoding/json without html escapes writes %s", s, got, want)
	}
	if got, want := AppendStringHTML(nil, s), marshal(t, s, true); !bytes.Equal(got, want) {
		t.Fatalf("%q written as %s; encoding/json with html escapes writes %s", s, got, want)
	}
}

var awkward = []string{"", "plain", `"`, `\`, "\x00", "\x1f", "\x7f", "\xff", "é", "\u2028", "\u2029", "🎉", "\xe2\x80",
	"<script>&amp;</script>", "a\bb\fc\nd\re\tf", "x\xed\xa0\x80y", "0123456789abcdef\"0123456789abcdef"}

func FuzzAppendString(f *testing.F) {
	for _, s := range awkward {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkString(t, s) })
}

// Each character that needs care, at every position of a longer plain
// string, where the writer skips eight bytes at a time.
func TestAppendStringFindsEveryEscapeInLongStrings(t *testing.T) {
	var specials []string
	for c := range 0x20 {
		specials = append(specials, string(rune(c)))
	}
	specials = append(specials, `"`, `\`, "<", ">", "&", "\x7f", "\x80", "\xff", "é", "\u2028", "\u2029", "🎉", "\xe2\x80")
	plain := "abcdefghijklmnopqrstuvwxyz0123456789"
	for _, sp := range specials {
		for i := range len(plain) + 1 {
			s := plain[:i] + sp + plain[i:]
			checkString(t, s)
			if b := AppendString(nil, s); bytes.ContainsAny(b, "\n\r") {
				t.Fatalf("%q written over more than one line: %s", s, b)
			}
		}
	}
}

// The eight-byte test against its definition, byte by byte, for every
// byte value at every position.
func TestPlain8(t *testing.T) {
	each := func(s []byte) bool {
		for _, c := range s {
			if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
				return false
			}
		}
		return true
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for c := range 256 {
		for pos := range 8 {
			for range 8 {
				b := []byte("        ")
				for i := range b {
					b[i] = byte(0x20 + rng.IntN(0x60)) // printable ASCII, or DEL
				}
				b[pos] = byte(c)
				if got, want := plain8(binary.LittleEndian.Uint64(b)), each(b); got != want {
					t.Fatalf("plain8(%q) = %v, want %v", b, got, want)
				}
				long := append(b, b[:pos]...)
				if got, want := Plain(long), each(long); got != want {
					t.Fatalf("Plain(%q) = %v, want %v", long, got, want)
				}
			}
		}
	}
}
