package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
)

// ChangeFilter is a compiled filter of a changes source: a CEL expression
// that says, for each resource version the change log holds, whether the
// channel writes messages for it. It sees:
//
//	resource   the resource's JSON as a map (resource.status,
//	           resource.category[0].coding[0].code, has(resource.code) …)
//	type, id   the resource type and id
//	version    the version number (1 for a new resource)
//
// for example, lab orders only:
//
//	type == "ServiceRequest" && resource.category.exists(c,
//	    c.coding.exists(x, x.code == "108252007"))
//
// It runs with the same limits as a message filter (cost, 100 ms); a
// missing field is an evaluation error, so test with has() first.
type ChangeFilter struct {
	source string
	prg    cel.Program
}

var changeFilterEnv = func() *cel.Env {
	env, err := cel.NewEnv(
		cel.Variable("resource", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("type", cel.StringType),
		cel.Variable("id", cel.StringType),
		cel.Variable("version", cel.IntType),
	)
	if err != nil {
		panic(fmt.Sprintf("engine: change filter environment: %v", err)) // a programming error, caught by every test
	}
	return env
}()

// CompileChangeFilter compiles a changes source's filter, which must give
// a bool.
func CompileChangeFilter(source string) (*ChangeFilter, error) {
	ast, iss := changeFilterEnv.Compile(source)
	if iss.Err() != nil {
		return nil, fmt.Errorf("changes filter %q: %v", source, iss.Err())
	}
	if ast.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("changes filter %q gives %s, not a bool", source, ast.OutputType())
	}
	prg, err := changeFilterEnv.Program(ast, cel.CostLimit(filterCostLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, fmt.Errorf("changes filter %q: %v", source, err)
	}
	return &ChangeFilter{source: source, prg: prg}, nil
}

// Pass reports whether the filter keeps a version of a resource, given as
// its JSON.
func (f *ChangeFilter) Pass(ctx context.Context, typ, id string, version int64, content []byte) (bool, error) {
	var res map[string]any
	if err := json.Unmarshal(content, &res); err != nil {
		return false, fmt.Errorf("changes filter: %s/%s is not a JSON object: %v", typ, id, err)
	}
	ctx, cancel := context.WithTimeout(ctx, filterTimeout)
	defer cancel()
	out, _, err := f.prg.ContextEval(ctx, map[string]any{"resource": res, "type": typ, "id": id, "version": version})
	if err != nil {
		return false, fmt.Errorf("changes filter %q: %v", f.source, err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("changes filter %q gave %v, not a bool", f.source, out)
	}
	return bool(b), nil
}
