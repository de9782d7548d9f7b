package collections

import (
	"strconv"
	"strings"
	"testing"
)

// decodePrivate reverses PrivateOf's escaping of one segment; it exists to
// prove the mapping one-to-one.
func decodePrivate(seg string) string {
	var b strings.Builder
	for i := 0; i < len(seg); i++ {
		if seg[i] == '_' && i+2 < len(seg) && upperHex(seg[i+1]) && upperHex(seg[i+2]) {
			n, _ := strconv.ParseUint(seg[i+1:i+3], 16, 8)
			b.WriteByte(byte(n))
			i += 2
			continue
		}
		b.WriteByte(seg[i])
	}
	return b.String()
}

// Two usernames never share a private collection (issue 17: "col_40x" and
// "col@x" used to), and names without an escape-like "_XX" map as before.
func TestPrivateOfIsOneToOne(t *testing.T) {
	for name, want := range map[string]string{
		"maria":      "/Shared/Private/maria",
		"maria@corp": "/Shared/Private/maria_40corp",
		"col@x":      "/Shared/Private/col_40x",
		"col_40x":    "/Shared/Private/col_5F40x",
		"a_b":        "/Shared/Private/a_b",
		"a_4":        "/Shared/Private/a_4",
		"a_4g":       "/Shared/Private/a_4g",
		"a__40":      "/Shared/Private/a__5F40",
		"a_@":        "/Shared/Private/a__40",
		"snake_case": "/Shared/Private/snake_case",
	} {
		if got := PrivateOf(name); got != want {
			t.Errorf("PrivateOf(%q) = %q, want %q", name, got, want)
		}
		if back := decodePrivate(strings.TrimPrefix(PrivateOf(name), Private+"/")); back != name {
			t.Errorf("PrivateOf(%q) decodes to %q", name, back)
		}
	}
}

func FuzzPrivateOfIsOneToOne(f *testing.F) {
	for _, s := range []string{"col_40x", "col@x", "_5F", "a__40", "ü_FF", "x_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		seg := strings.TrimPrefix(PrivateOf(name), Private+"/")
		if back := decodePrivate(seg); back != name {
			t.Fatalf("PrivateOf(%q) = %q decodes to %q", name, seg, back)
		}
		for i := 0; i < len(seg); i++ {
			if !segmentChar(seg[i]) {
				t.Fatalf("PrivateOf(%q) = %q holds %q", name, seg, seg[i])
			}
		}
	})
}
