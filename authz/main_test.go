package authz

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when they leave goroutines behind.
// The benchmarks share one loaded store (loadBench); it is closed here,
// after every benchmark, so that a benchmark run is checked too.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchEnv != nil {
		if err := benchEnv.st.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "closing the benchmarks' store:", err)
			code = 1
		}
		os.RemoveAll(benchDir)
	}
	if code == 0 {
		// raft's in-memory transport may outlive a store's Close briefly.
		if err := goleak.Find(goleak.IgnoreTopFunction("github.com/hashicorp/raft.(*InmemTransport).consumer")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
