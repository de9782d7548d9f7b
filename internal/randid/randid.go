// Package randid makes the random identifiers grantd stores: grant IDs,
// token IDs, JWT IDs.
package randid

import (
	"crypto/rand"
	"encoding/hex"
)

// New returns a random 128-bit identifier in hex.
func New() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
