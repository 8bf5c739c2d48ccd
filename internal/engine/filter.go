package engine

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	"github.com/concord-health/concord/hl7v2"
)

// Limits on one filter evaluation: CEL has no loops or I/O, and these
// bound what a costly expression may do.
const (
	filterCostLimit = 100000
	filterTimeout   = 100 * time.Millisecond
)

// messageType is the CEL type of the msg variable.
var messageType = types.NewOpaqueType("concord.hl7v2.Message")

// celMessage carries a parsed message into a CEL evaluation.
type celMessage struct{ m *hl7v2.Message }

func (c celMessage) ConvertToNative(reflect.Type) (any, error) {
	return nil, fmt.Errorf("a message cannot leave a filter")
}

func (c celMessage) ConvertToType(t ref.Type) ref.Val {
	if t == types.TypeType {
		return messageType
	}
	return types.NewErr("a message converts to nothing")
}

func (c celMessage) Equal(o ref.Val) ref.Val {
	other, ok := o.(celMessage)
	return types.Bool(ok && other.m == c.m)
}

func (c celMessage) Type() ref.Type { return messageType }
func (c celMessage) Value() any     { return c.m }

// Filter is a compiled channel filter: a CEL expression that says, for
// each received message, whether the channel passes it on. It sees:
//
//	msg.get("PID-3[2].1")  the decoded value at an HL7 path ("" when absent)
//	msg.count("OBX")       how many segments of that ID the message has
//	type, trigger, structure, control_id, version, sender
//	                       MSH-9.1, MSH-9.2, MSH-9.3, MSH-10, MSH-12, MSH-3^MSH-4
//
// for example: type == "ORU" && msg.get("OBX-3.3") == "LN" && msg.count("OBX") > 0.
type Filter struct {
	source string
	prg    cel.Program
}

var filterEnv = func() *cel.Env {
	env, err := cel.NewEnv(
		cel.Variable("msg", messageType),
		cel.Variable("type", cel.StringType),
		cel.Variable("trigger", cel.StringType),
		cel.Variable("structure", cel.StringType),
		cel.Variable("control_id", cel.StringType),
		cel.Variable("version", cel.StringType),
		cel.Variable("sender", cel.StringType),
		cel.Function("get", cel.MemberOverload("message_get_string", []*cel.Type{messageType, cel.StringType}, cel.StringType,
			cel.BinaryBinding(func(lhs, rhs ref.Val) ref.Val {
				m, ok1 := lhs.(celMessage)
				p, ok2 := rhs.(types.String)
				if !ok1 || !ok2 {
					return types.NewErr("get: want a message and a path")
				}
				v, err := m.m.Lookup(string(p))
				if err != nil {
					return types.NewErr("%v", err)
				}
				return types.String(v.String())
			}))),
		cel.Function("count", cel.MemberOverload("message_count_string", []*cel.Type{messageType, cel.StringType}, cel.IntType,
			cel.BinaryBinding(func(lhs, rhs ref.Val) ref.Val {
				m, ok1 := lhs.(celMessage)
				s, ok2 := rhs.(types.String)
				if !ok1 || !ok2 {
					return types.NewErr("count: want a message and a segment ID")
				}
				return types.Int(m.m.Count(string(s)))
			}))),
	)
	if err != nil {
		panic(fmt.Sprintf("engine: filter environment: %v", err)) // a programming error, caught by every test
	}
	return env
}()

// CompileFilter compiles a filter expression, which must give a bool.
func CompileFilter(source string) (*Filter, error) {
	ast, iss := filterEnv.Compile(source)
	if iss.Err() != nil {
		return nil, fmt.Errorf("filter %q: %v", source, iss.Err())
	}
	if ast.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("filter %q gives %s, not a bool", source, ast.OutputType())
	}
	prg, err := filterEnv.Program(ast, cel.CostLimit(filterCostLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, fmt.Errorf("filter %q: %v", source, err)
	}
	return &Filter{source: source, prg: prg}, nil
}

// Pass reports whether the filter passes m.
func (f *Filter) Pass(ctx context.Context, m *hl7v2.Message) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, filterTimeout)
	defer cancel()
	code, trigger, structure := m.MessageType()
	app, fac := m.Sender()
	out, _, err := f.prg.ContextEval(ctx, map[string]any{
		"msg": celMessage{m}, "type": code, "trigger": trigger, "structure": structure,
		"control_id": m.ControlID(), "version": m.Version(), "sender": app + "^" + fac,
	})
	if err != nil {
		return false, fmt.Errorf("filter %q: %v", f.source, err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("filter %q gave %v, not a bool", f.source, out)
	}
	return bool(b), nil
}
