package concord

import (
	"strings"
	"testing"
)

// FuzzParseScope checks that any text either parses into a scope that
// means what it says or is refused with a one-line error.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"patient/Observation.rs", "system/*.cruds", "user/*.rs", "patient/*.read",
		"user/*.*", "openid", "launch/patient", "patient/Observation.rs?category=vital-signs", "a/b.c", "/.", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		s, err := ParseScope(raw)
		if err != nil {
			if strings.Contains(err.Error(), "\n") || s.IsResource() {
				t.Fatalf("bad refusal of %q: %v %+v", raw, err, s)
			}
			return
		}
		if s.Raw != raw {
			t.Fatalf("Raw %q for input %q", s.Raw, raw)
		}
		if !s.IsResource() {
			if s.Ops != 0 || s.Allows("Patient", OpRead) {
				t.Fatalf("non-resource scope %q grants access", raw)
			}
			return
		}
		if s.Ops == 0 || s.Ops&^OpsAll != 0 {
			t.Fatalf("scope %q has ops %b", raw, s.Ops)
		}
		if !strings.HasPrefix(raw, s.Context+"/"+s.ResourceType+".") {
			t.Fatalf("scope %q parsed as %+v", raw, s)
		}
		if strings.ContainsAny(s.ResourceType, " ;'\"/.?") {
			t.Fatalf("resource type %q accepted", s.ResourceType)
		}
	})
}

// FuzzParseBearer checks that bearer parsing never panics and only
// accepts the shape Concord issues.
func FuzzParseBearer(f *testing.F) {
	f.Add("cnc_06h006j2nmgtjma7a7sg.lYx3CMs6WSOo9zO1HfkYlMAgTcJ6qHhaT559mcJY7s8")
	f.Add("cnc_.")
	f.Add("Bearer x")
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, err := ParseBearer(s)
		if err != nil {
			if ErrorCode(err) != EUNAUTHORIZED {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if id == "" || secret == "" || TokenPrefix+id+"."+secret != s || strings.Contains(id, ".") {
			t.Fatalf("%q split into %q and %q", s, id, secret)
		}
	})
}
