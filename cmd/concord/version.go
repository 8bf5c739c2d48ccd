package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/concord-health/concord"
)

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Printf("concord %s (%s, %s/%s)\n", concord.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}
