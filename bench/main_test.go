package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when they leave goroutines behind.
func TestMain(m *testing.M) {
	peerCommand() // the benchmark runs its OPA peers as this executable
	floorCommand()
	goleak.VerifyTestMain(m,
		// raft's in-memory transport may outlive a store's Close briefly.
		goleak.IgnoreTopFunction("github.com/hashicorp/raft.(*InmemTransport).consumer"))
}
