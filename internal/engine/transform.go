package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"

	"github.com/concord-health/concord/hl7v2"
)

// Step is one step of a channel's transformer. Exactly one of Set, Copy,
// Clear, Map, DeleteSegments, AddSegment and Split says what it does.
type Step struct {
	Set   string // path to set to the value of Value (a CEL expression giving a string)
	Value string
	Copy  string // path to copy from, to the path To
	To    string
	Clear string            // path to empty
	Map   string            // path whose value is looked up in Table
	Table map[string]string // for Map
	// Default, for Map, replaces a value not in Table; nil keeps it.
	Default        *string
	DeleteSegments string // segment ID: every such segment is removed
	AddSegment     string // an encoded segment appended to the message
	// Split, the last step if given, makes one message per occurrence of
	// this segment (see SplitAt): an ORU with three OBR groups becomes
	// three ORUs, each delivered on its own, in order.
	Split string
}

// Transformer is a compiled list of steps, applied in order to a copy of
// each message a channel passes on. The message as received is stored
// untouched; destinations get the result.
type Transformer struct {
	steps  []Step
	values []cel.Program // per step: the compiled Value of a Set step
}

// CompileTransformer checks the steps and compiles their expressions.
func CompileTransformer(steps []Step) (*Transformer, error) {
	t := &Transformer{steps: steps, values: make([]cel.Program, len(steps))}
	for i, s := range steps {
		kinds := 0
		for _, v := range []string{s.Set, s.Copy, s.Clear, s.Map, s.DeleteSegments, s.AddSegment, s.Split} {
			if v != "" {
				kinds++
			}
		}
		if kinds != 1 {
			return nil, fmt.Errorf("step %d: want exactly one of set, copy, clear, map, delete_segments, add_segment, split", i+1)
		}
		check := func(path string) error {
			if _, err := hl7v2.ParsePath(path); err != nil {
				return fmt.Errorf("step %d: %v", i+1, err)
			}
			return nil
		}
		switch {
		case s.Set != "":
			if err := check(s.Set); err != nil {
				return nil, err
			}
			ast, iss := filterEnv.Compile(s.Value)
			if iss.Err() != nil {
				return nil, fmt.Errorf("step %d: value %q: %v", i+1, s.Value, iss.Err())
			}
			if ast.OutputType() != cel.StringType {
				return nil, fmt.Errorf("step %d: value %q gives %s, not a string", i+1, s.Value, ast.OutputType())
			}
			prg, err := filterEnv.Program(ast, cel.CostLimit(filterCostLimit), cel.InterruptCheckFrequency(100))
			if err != nil {
				return nil, fmt.Errorf("step %d: %v", i+1, err)
			}
			t.values[i] = prg
		case s.Copy != "":
			if err := check(s.Copy); err != nil {
				return nil, err
			}
			if err := check(s.To); err != nil {
				return nil, err
			}
		case s.Clear != "":
			if err := check(s.Clear); err != nil {
				return nil, err
			}
		case s.Map != "":
			if err := check(s.Map); err != nil {
				return nil, err
			}
			if len(s.Table) == 0 {
				return nil, fmt.Errorf("step %d: map needs a table", i+1)
			}
		case s.DeleteSegments != "":
			if len(s.DeleteSegments) != 3 || s.DeleteSegments == "MSH" {
				return nil, fmt.Errorf("step %d: delete_segments wants a segment ID other than MSH", i+1)
			}
		case s.AddSegment != "":
			if strings.ContainsAny(s.AddSegment, "\r\n") || len(s.AddSegment) < 3 {
				return nil, fmt.Errorf("step %d: add_segment wants one encoded segment", i+1)
			}
		case s.Split != "":
			if len(s.Split) != 3 || s.Split == "MSH" {
				return nil, fmt.Errorf("step %d: split wants a segment ID other than MSH", i+1)
			}
			if i != len(steps)-1 {
				return nil, fmt.Errorf("step %d: split must be the last step", i+1)
			}
		}
	}
	return t, nil
}

// Apply returns the transformed copy of m, encoded: one message, or
// several when the last step splits it.
func (t *Transformer) Apply(ctx context.Context, m *hl7v2.Message) ([][]byte, error) {
	out := m.Clone()
	for i, s := range t.steps {
		var err error
		switch {
		case s.Set != "":
			var v string
			if v, err = t.value(ctx, i, out); err == nil {
				err = out.Set(s.Set, v)
			}
		case s.Copy != "":
			var v hl7v2.Value
			if v, err = out.Lookup(s.Copy); err == nil {
				err = out.SetRaw(s.To, v.Raw())
			}
		case s.Clear != "":
			err = out.Set(s.Clear, "")
		case s.Map != "":
			v := out.Get(s.Map)
			if to, ok := s.Table[v]; ok {
				err = out.Set(s.Map, to)
			} else if s.Default != nil {
				err = out.Set(s.Map, *s.Default)
			}
		case s.DeleteSegments != "":
			for j := out.Len() - 1; j > 0; j-- {
				if out.Segment(j).Name() == s.DeleteSegments {
					err = out.DeleteSegment(j)
				}
			}
		case s.AddSegment != "":
			err = out.AppendSegment(s.AddSegment)
		case s.Split != "":
			return splitMessage(out, s.Split)
		}
		if err != nil {
			return nil, fmt.Errorf("transformer step %d: %v", i+1, err)
		}
	}
	return [][]byte{out.Bytes()}, nil
}

// splitMessage splits m at each occurrence of segment id: every part has
// the segments before the first occurrence (the header: MSH, PID, PV1 …)
// and one occurrence with the segments that follow it up to the next.
// With more than one part, each part's MSH-10 gets "-1", "-2" … so a
// partner's duplicate check keeps them apart. A message without the
// segment is one part, unchanged.
func splitMessage(m *hl7v2.Message, id string) ([][]byte, error) {
	var starts []int
	for j := 1; j < m.Len(); j++ {
		if m.Segment(j).Name() == id {
			starts = append(starts, j)
		}
	}
	if len(starts) <= 1 {
		return [][]byte{m.Bytes()}, nil
	}
	parts := make([][]byte, len(starts))
	control := m.ControlID()
	for k, from := range starts {
		to := m.Len()
		if k+1 < len(starts) {
			to = starts[k+1]
		}
		part := m.Clone()
		// Delete from the end so indexes before stay valid.
		for j := part.Len() - 1; j >= starts[0]; j-- {
			if j < from || j >= to {
				if err := part.DeleteSegment(j); err != nil {
					return nil, fmt.Errorf("split: %v", err)
				}
			}
		}
		if err := part.Set("MSH-10", fmt.Sprintf("%s-%d", control, k+1)); err != nil {
			return nil, fmt.Errorf("split: %v", err)
		}
		parts[k] = part.Bytes()
	}
	return parts, nil
}

func (t *Transformer) value(ctx context.Context, i int, m *hl7v2.Message) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, filterTimeout)
	defer cancel()
	code, trigger, structure := m.MessageType()
	app, fac := m.Sender()
	out, _, err := t.values[i].ContextEval(ctx, map[string]any{
		"msg": celMessage{m}, "type": code, "trigger": trigger, "structure": structure,
		"control_id": m.ControlID(), "version": m.Version(), "sender": app + "^" + fac,
	})
	if err != nil {
		return "", err
	}
	s, ok := out.(types.String)
	if !ok {
		return "", fmt.Errorf("value gave %v, not a string", out)
	}
	return string(s), nil
}
