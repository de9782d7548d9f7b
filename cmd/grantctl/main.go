// Command grantctl is the command-line client of grantd. It talks gRPC over
// TLS to the server and keeps the session token of `grantctl login` in the
// user's config directory, readable only by them.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	err := newRootCommand().Execute()
	switch {
	case errors.Is(err, errDenied):
		os.Exit(3) // the decision is printed already
	case err != nil:
		fmt.Fprintln(os.Stderr, "grantctl:", explain(err))
		os.Exit(1)
	}
}
