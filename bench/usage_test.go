package main

import (
	"os/exec"
	"strings"
	"testing"
)

// `go run ./bench -h` prints its usage, the gen form included, and exits
// 0 (it ended in "flag: help requested / exit status 2").
func TestHelpExitsCleanly(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"gen", "-h"}} {
		out, err := exec.Command("go", append([]string{"run", "."}, args...)...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "bench gen -size SIZE -o FILE") || strings.Contains(string(out), "help requested") {
			t.Errorf("go run ./bench %v: %v\n%s", args, err, out)
		}
	}
}
