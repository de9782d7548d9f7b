// Command grantctl is the command-line client of grantd. It talks gRPC over
// TLS to the server and keeps the session token of `grantctl login` in the
// user's config directory, readable only by them.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "grantctl:", err)
		os.Exit(1)
	}
}
