package plainjson

import (
	"bytes"
	"encoding/json"
	"testing"
)

// checkSkip asserts that Skip reads a whole text exactly when
// encoding/json finds it valid (within Skip's nesting bound).
func checkSkip(t *testing.T, b []byte) {
	s := New(b)
	skipped := s.Skip() && s.End()
	valid := json.Valid(b)
	shallow := bytes.Count(b, []byte("["))+bytes.Count(b, []byte("{")) < MaxSkipDepth
	if skipped && !valid || valid && shallow && !skipped {
		t.Errorf("%q: Skip reads it whole: %v; encoding/json finds it valid: %v", b, skipped, valid)
	}
}

func FuzzSkip(f *testing.F) {
	for _, s := range []string{`{"a":[1,-2.5e+3,true,false,null,"\u00e9\n"]}`, `01`, `-`, `1.`, `.5`, `1e`, `"\x"`, `"\u12"`,
		"\"\xff\"", "\"\x01\"", `[1,]`, `{"a":1,}`, `{"a"}`, ` [ ] `, `nul`, `truex`, `"a" "b"`, `[[[[]]]]`, `-0.0E-0`,
		"{\"\xf3\":[]}", "{\"\\u00e9\":1}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(checkSkip)
}

func TestSkipDepth(t *testing.T) {
	nested := func(n int) []byte {
		return append(bytes.Repeat([]byte("["), n), bytes.Repeat([]byte("]"), n)...)
	}
	if !New(nested(MaxSkipDepth)).Skip() || New(nested(MaxSkipDepth+1)).Skip() {
		t.Errorf("Skip reads arrays nested %d deep and refuses %d", MaxSkipDepth, MaxSkipDepth+1)
	}
}
