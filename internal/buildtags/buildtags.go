// Package buildtags says which of grantd's optional build tags this
// machine can build with, so that the benchmark and the end-to-end tests
// build the binary that `make build` makes.
//
// One tag exists: isal, with which the decision log's HTTP sink
// compresses with Intel's ISA-L (cgo, Debian's libisal-dev) instead of
// pure Go (docs/decisions.md, "The decision log's gzip").
package buildtags

import "os"

// ISALHeader is the header of ISA-L's igzip that the isal tag's code
// includes. The Makefile looks for the same file.
const ISALHeader = "/usr/include/isa-l/igzip_lib.h"

// Args are the arguments of `go build` for the optional tags this
// machine has what they need for: "-tags isal" when ISA-L's header is
// installed, none otherwise.
func Args() []string {
	if _, err := os.Stat(ISALHeader); err == nil {
		return []string{"-tags", "isal"}
	}
	return nil
}
