package authn

import (
	"strings"
	"testing"
)

func TestPasswordHashing(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$") || strings.Contains(h, "correct horse") {
		t.Fatalf("hash %q", h)
	}
	if !CheckPassword(h, "correct horse") || CheckPassword(h, "correct horsE") || CheckPassword("", "") || CheckPassword("$argon2id$x", "a") {
		t.Fatal("checkPassword accepts what it must not, or refuses the right password")
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Fatal("hashes are not salted")
	}
}
