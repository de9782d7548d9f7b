package authn

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes, 1
// lane). hashSlots bounds how many hashes run at once, so a burst of logins
// cannot exhaust memory.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
	hashSlots      = 4
	// MinPasswordLen is the shortest password accepted for a local user.
	MinPasswordLen = 8
	MaxPasswordLen = 1024
)

var hashSem = make(chan struct{}, hashSlots)

// HashPassword returns a PHC-format argon2id hash.
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	hashSem <- struct{}{}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	<-hashSem
	b64 := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemoryKiB, argonTime, argonThreads, b64(salt), b64(key)), nil
}

// CheckPassword verifies a password against a PHC argon2id hash in
// constant time. An empty or malformed hash never matches.
func CheckPassword(encoded, password string) bool {
	var mem uint32
	var t uint32
	var p uint8
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &p); err != nil || mem > 1<<20 || t > 16 || p == 0 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	hashSem <- struct{}{}
	got := argon2.IDKey([]byte(password), salt, t, mem, p, uint32(len(want)))
	<-hashSem
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when a login names no usable account, so
// that the answer takes as long as for a wrong password.
var dummyHash, _ = HashPassword("grantd-timing-equalizer")

// ValidPassword checks a new local password against the length rules.
func ValidPassword(pw string) error {
	switch {
	case len(pw) < MinPasswordLen:
		return fmt.Errorf("password must be at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return fmt.Errorf("password must be at most %d characters", MaxPasswordLen)
	}
	return nil
}

// ErrBadCredentials is every failed login: unknown user, inactive user, wrong
// password — one answer, so it tells nothing about which names exist.
var ErrBadCredentials = errors.New("invalid username or password")

// CheckDummy spends the time of a password check on nothing, so that a
// login naming no usable account answers as slowly as a wrong password.
func CheckDummy(password string) { CheckPassword(dummyHash, password) }
