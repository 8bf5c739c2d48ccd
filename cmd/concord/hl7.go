package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/concord-health/concord/hl7v2"
)

func newHL7() *cobra.Command {
	cmd := &cobra.Command{Use: "hl7", Short: "Work with HL7 v2 messages"}
	cmd.AddCommand(newHL7Parse())
	return cmd
}

func newHL7Parse() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "parse FILE",
		Short: "Print the parsed tree of the messages in FILE (- for standard input)",
		Long: "Print every non-empty value of every message in FILE with its path (PID-3[1].4.2 = …),\n" +
			"escape sequences decoded; with --json, one JSON object per message. Exits non-zero\n" +
			"when a message does not parse.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readInput(args[0])
			if err != nil {
				return err
			}
			batch, err := hl7v2.SplitBatch(data)
			if err != nil {
				return fmt.Errorf("%s: %v", args[0], err)
			}
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			for i, raw := range batch.Messages {
				m, err := hl7v2.Parse(raw)
				if err != nil {
					return fmt.Errorf("%s: message %d: %v", args[0], i+1, err)
				}
				if asJSON {
					if err := enc.Encode(messageJSON(m)); err != nil {
						return err
					}
					continue
				}
				if i > 0 {
					fmt.Println()
				}
				printTree(m)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of one line per value")
	return cmd
}

// printTree prints one line per non-empty leaf: its full path and value.
func printTree(m *hl7v2.Message) {
	counts := map[string]int{}
	seen := -1
	for l := range m.EachLeaf {
		name := l.Segment.Name()
		if l.Segment.Index() != seen {
			seen = l.Segment.Index()
			counts[name]++
		}
		path := name
		if counts[name] > 1 {
			path += "[" + strconv.Itoa(counts[name]) + "]"
		}
		path += "-" + strconv.Itoa(l.Field)
		if l.Rep > 1 {
			path += "[" + strconv.Itoa(l.Rep) + "]"
		}
		if l.Component > 1 || l.Sub > 1 || l.Segment.Field(l.Field).Rep(l.Rep).Components() > 1 {
			path += "." + strconv.Itoa(l.Component)
		}
		if l.Sub > 1 {
			path += "." + strconv.Itoa(l.Sub)
		}
		fmt.Printf("%s = %s\n", path, l.Value.String())
	}
}

// messageJSON shapes a message for --json: its header facts and every
// segment, each field as a string when it has no structure, else as
// repetitions of components of subcomponents.
func messageJSON(m *hl7v2.Message) map[string]any {
	code, trigger, structure := m.MessageType()
	var segs []map[string]any
	for _, s := range m.Segments() {
		fields := map[string]any{}
		for f := 1; f <= s.FieldCount(); f++ {
			v := s.Field(f)
			if v.IsEmpty() {
				continue
			}
			fields[strconv.Itoa(f)] = fieldJSON(s, f, v)
		}
		segs = append(segs, map[string]any{"segment": s.Name(), "fields": fields})
	}
	return map[string]any{
		"type": code, "trigger": trigger, "structure": structure, "control_id": m.ControlID(),
		"version": m.Version(), "segments": segs,
	}
}

func fieldJSON(s hl7v2.Segment, n int, v hl7v2.Value) any {
	if (s.Name() == "MSH" && n <= 2) || (v.Reps() <= 1 && v.Components() <= 1 && v.Subcomponents() <= 1) {
		return v.String()
	}
	var reps []any
	for rep := range v.EachRep {
		var comps []any
		for comp := range rep.EachComponent {
			if comp.Subcomponents() <= 1 {
				comps = append(comps, comp.String())
				continue
			}
			var subs []any
			for sub := range comp.EachSub {
				subs = append(subs, sub.String())
			}
			comps = append(comps, subs)
		}
		reps = append(reps, comps)
	}
	return reps
}
