package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/concord-health/concord/fhirpath"
)

func newFHIRPath() *cobra.Command {
	var expr string
	cmd := &cobra.Command{
		Use:   "fhirpath -e EXPR FILE",
		Short: "Evaluate a FHIRPath expression on a FHIR resource (JSON or XML), or run a test suite",
		Long: "With -e, evaluate the expression on the resource in FILE (FHIR JSON, or FHIR XML when the\n" +
			"file ends in .xml) and print the result collection as a JSON array. The subcommand suite runs\n" +
			"an official FHIRPath test file.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if expr == "" {
				return fmt.Errorf("-e EXPR is required")
			}
			x, err := fhirpath.Compile(expr)
			if err != nil {
				return err
			}
			src, err := readInput(args[0])
			if err != nil {
				return err
			}
			if strings.HasSuffix(args[0], ".xml") {
				if src, err = fhirpath.XMLToJSON(src); err != nil {
					return fmt.Errorf("%s: %v", args[0], err)
				}
			}
			doc, err := fhirpath.ParseJSON(src)
			if err != nil {
				return fmt.Errorf("%s: %v", args[0], err)
			}
			out, err := x.Evaluate(doc, nil)
			if err != nil {
				return err
			}
			j, err := json.Marshal(out)
			if err != nil {
				return err
			}
			fmt.Println(string(j))
			return nil
		},
	}
	cmd.Flags().StringVarP(&expr, "expression", "e", "", "the FHIRPath expression")
	cmd.AddCommand(newFHIRPathSuite())
	return cmd
}

func newFHIRPathSuite() *cobra.Command {
	var list bool
	cmd := &cobra.Command{
		Use:   "suite FILE.xml",
		Short: "Run an official FHIRPath test file and print N passed, M failed, K skipped",
		Long: "Run an official FHIRPath test file (tests-fhir-r4.xml, tests-fhir-r5.xml); input files are\n" +
			"read from its directory. The last line is \"N passed, M failed, K skipped\"; --list prints every\n" +
			"test's verdict first. The exit status is 0 however many tests fail.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := fhirpath.RunSuite(args[0])
			if err != nil {
				return err
			}
			if list {
				for _, line := range res.Tests {
					fmt.Println(line)
				}
			}
			fmt.Println(res.String())
			return nil
		},
	}
	cmd.Flags().BoolVar(&list, "list", false, "print every test's verdict")
	return cmd
}
