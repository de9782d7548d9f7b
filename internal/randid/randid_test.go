package randid

import "testing"

func TestNewIsRandomHex(t *testing.T) {
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New()
	if len(a) != 32 || a == b {
		t.Errorf("New() = %q then %q", a, b)
	}
}
