// Command concord is the Concord integration hub: one binary that serves
// every front door (concord serve) and administers a node (tokens, audit).
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		// One line, no stack: say what went wrong and where.
		fmt.Fprintln(os.Stderr, "concord: "+strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(exitCode(err))
	}
}
