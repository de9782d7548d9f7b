// Command hello is the program of the tiny image the end-to-end tests
// build FROM scratch (no registry can be pulled from): it greets, or,
// given "sleep", prints a tick every half second until stopped.
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "sleep" {
		for i := 0; ; i++ {
			fmt.Println("tick", i)
			time.Sleep(500 * time.Millisecond)
		}
	}
	fmt.Println("hello from grantd's test image")
}
