//go:build !linux

package decisionlog

import "os"

// Elsewhere than Linux, the file sink leaves the page cache to the
// kernel.
func startWriteback(*os.File, int64, int64) {}

func dropWritten(*os.File, int64, int64) {}
