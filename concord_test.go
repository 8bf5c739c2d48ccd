package concord

import (
	"strings"
	"testing"
	"time"
)

func TestParseScope(t *testing.T) {
	good := map[string]struct {
		ctx, typ string
		ops      Ops
	}{
		"patient/Observation.rs": {ScopePatient, "Observation", OpRead | OpSearch},
		"system/*.cruds":         {ScopeSystem, "*", OpsAll},
		"user/*.rs":              {ScopeUser, "*", OpRead | OpSearch},
		"user/Patient.c":         {ScopeUser, "Patient", OpCreate},
		"patient/*.read":         {ScopePatient, "*", OpRead | OpSearch},
		"user/*.write":           {ScopeUser, "*", OpCreate | OpUpdate | OpDelete},
		"user/*.*":               {ScopeUser, "*", OpsAll},
		"openid":                 {"", "", 0},
		"launch/patient":         {"", "", 0},
	}
	for raw, want := range good {
		s, err := ParseScope(raw)
		if err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		if s.Context != want.ctx || s.ResourceType != want.typ || s.Ops != want.ops {
			t.Errorf("%s: got %+v", raw, s)
		}
	}
	bad := map[string]string{
		"patient/Observation.sr":      "order",
		"patient/Observation.rr":      "order",
		"patient/Observation.x":       "letters of cruds",
		"admin/*.rs":                  "context",
		"patient/observation.rs":      "resource type",
		"patient/Observation":         "want context",
		"patient/.rs":                 "want context",
		"nonsense":                    "want context",
		"patient/Observation.rs?x=1":  "not supported",
		"system/Drop Table.cruds":     "resource type",
		"user/Observation.":           "want context",
		"patient/Observation.rs.more": "letters of cruds",
	}
	for raw, want := range bad {
		if _, err := ParseScope(raw); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to mention %q", raw, err, want)
		}
	}
}

func principal(t *testing.T, role Role, patient string, scopes ...string) *Principal {
	t.Helper()
	tok, _, err := NewToken(TokenRequest{Role: role, Patient: patient, Scopes: scopes, TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p, err := tok.Principal()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuthorize(t *testing.T) {
	admin := principal(t, RoleAdmin, "")
	clin := principal(t, RoleClinician, "")
	clinRead := principal(t, RoleClinician, "", "user/Observation.rs")
	integ := principal(t, RoleIntegration, "")
	auditor := principal(t, RoleAuditor, "")
	pat := principal(t, RolePatient, "p1")
	obsRead := Action{ResourceType: "Observation", Ops: OpRead}
	obsWrite := Action{ResourceType: "Observation", Ops: OpCreate}
	cases := []struct {
		name    string
		p       *Principal
		a       Action
		allowed bool
		patient string
	}{
		{"admin status", admin, Action{Permission: PermStatusRead}, true, ""},
		{"clinician status", clin, Action{Permission: PermStatusRead}, false, ""},
		{"integration status", integ, Action{Permission: PermStatusRead}, false, ""},
		{"integration channels", integ, Action{Permission: PermChannelsManage}, true, ""},
		{"auditor audit", auditor, Action{Permission: PermAuditRead}, true, ""},
		{"auditor tokens", auditor, Action{Permission: PermTokensManage}, false, ""},
		{"admin data", admin, obsWrite, true, ""},
		{"clinician data", clin, obsWrite, true, ""},
		{"clinician read-only reads", clinRead, obsRead, true, ""},
		{"clinician read-only writes", clinRead, obsWrite, false, ""},
		{"clinician read-only other type", clinRead, Action{ResourceType: "Patient", Ops: OpRead}, false, ""},
		{"auditor data", auditor, obsRead, false, ""},
		{"patient own", pat, Action{ResourceType: "Observation", Ops: OpRead, Patient: "p1"}, true, "p1"},
		{"patient search narrowed", pat, Action{ResourceType: "Observation", Ops: OpSearch}, true, "p1"},
		{"patient other", pat, Action{ResourceType: "Observation", Ops: OpRead, Patient: "p2"}, false, ""},
		{"patient write", pat, Action{ResourceType: "Observation", Ops: OpCreate, Patient: "p1"}, false, ""},
		{"patient admin", pat, Action{Permission: PermStatusRead}, false, ""},
		{"nobody", nil, obsRead, false, ""},
	}
	for _, c := range cases {
		g, err := Authorize(c.p, c.a)
		if (err == nil) != c.allowed {
			t.Errorf("%s: err %v, want allowed=%v", c.name, err, c.allowed)
			continue
		}
		if err != nil {
			if code := ErrorCode(err); code != EFORBIDDEN && code != EUNAUTHORIZED {
				t.Errorf("%s: code %s", c.name, code)
			}
			continue
		}
		if g.Patient != c.patient {
			t.Errorf("%s: grant limited to %q, want %q", c.name, g.Patient, c.patient)
		}
	}
}

func TestTokenRules(t *testing.T) {
	now := time.Now()
	bad := []struct {
		req  TokenRequest
		want string
	}{
		{TokenRequest{Role: "root", TTL: time.Hour}, "unknown role"},
		{TokenRequest{Role: RolePatient, TTL: time.Hour}, "needs a patient"},
		{TokenRequest{Role: RoleClinician, Scopes: []string{"patient/*.rs"}, TTL: time.Hour}, "needs a patient"},
		{TokenRequest{Role: RoleIntegration, Scopes: []string{"user/*.rs"}, TTL: time.Hour}, "may not hold user/"},
		{TokenRequest{Role: RoleAuditor, Scopes: []string{"system/*.rs"}, TTL: time.Hour}, "may not hold system/"},
		{TokenRequest{Role: RoleAdmin, TTL: 0}, "lifetime"},
		{TokenRequest{Role: RoleAdmin, TTL: 400 * 24 * time.Hour}, "lifetime"},
		{TokenRequest{Role: RolePatient, Patient: "bad id!", TTL: time.Hour}, "not a FHIR id"},
	}
	for _, c := range bad {
		if _, _, err := NewToken(c.req, now); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.req, err, c.want)
		}
	}
	tok, bearer, err := NewToken(TokenRequest{Role: RoleAdmin, TTL: time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	id, secret, err := ParseBearer(bearer)
	if err != nil || id != tok.ID {
		t.Fatalf("ParseBearer(%q) = %q, %v", bearer, id, err)
	}
	if err := tok.Check(secret, now); err != nil {
		t.Fatalf("fresh token refused: %v", err)
	}
	if err := tok.Check(secret+"x", now); ErrorCode(err) != EUNAUTHORIZED {
		t.Fatalf("wrong secret: %v", err)
	}
	if err := tok.Check(secret, now.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("at expiry: %v", err)
	}
	tok.RevokedAt = now
	if err := tok.Check(secret, now); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked: %v", err)
	}
	for _, b := range []string{"", "cnc_", "cnc_abc", "xyz_abc.def", "cnc_." + strings.Repeat("a", 300)} {
		if _, _, err := ParseBearer(b); ErrorCode(err) != EUNAUTHORIZED {
			t.Errorf("ParseBearer(%q): %v", b, err)
		}
	}
	// IDs sort by creation time.
	a, _, _ := NewToken(TokenRequest{Role: RoleAdmin, TTL: time.Hour}, now)
	b, _, _ := NewToken(TokenRequest{Role: RoleAdmin, TTL: time.Hour}, now.Add(2*time.Millisecond))
	if !(a.ID < b.ID) {
		t.Errorf("token IDs not ordered by time: %s then %s", a.ID, b.ID)
	}
}

func chain(n int) []*AuditRecord {
	head := AuditHead{Hash: GenesisHash}
	var out []*AuditRecord
	for i := 0; i < n; i++ {
		r := &AuditRecord{Time: time.Unix(int64(1000+i), 0), Actor: "a", Action: AuditRead, Object: "Patient/x"}
		head = r.Seal(head)
		out = append(out, r)
	}
	return out
}

func verify(recs []*AuditRecord, head AuditHead) *AuditBreak {
	v := NewAuditVerifier()
	for _, r := range recs {
		if b := v.Add(r); b != nil {
			return b
		}
	}
	return v.Finish(head)
}

func TestAuditVerifier(t *testing.T) {
	recs := chain(5)
	head := AuditHead{Seq: 5, Hash: recs[4].Hash}
	if b := verify(recs, head); b != nil {
		t.Fatalf("intact chain: %v", b)
	}
	changed := chain(5)
	changed[2].Detail = "edited"
	if b := verify(changed, head); b == nil || b.Seq != 3 || !strings.Contains(b.Reason, "changed") {
		t.Errorf("changed: %v", b)
	}
	deleted := append(chain(5)[:1], chain(5)[2:]...)
	if b := verify(deleted, head); b == nil || b.Seq != 2 || !strings.Contains(b.Reason, "deleted") {
		t.Errorf("deleted: %v", b)
	}
	c := chain(5)
	c[1], c[2] = c[2], c[1]
	c[1].Seq, c[2].Seq = 2, 3
	if b := verify(c, head); b == nil || b.Seq != 2 {
		t.Errorf("reordered: %v", b)
	}
	if b := verify(chain(4), head); b == nil || b.Seq != 5 || !strings.Contains(b.Reason, "deleted") {
		t.Errorf("tail deleted: %v", b)
	}
	// Every field is covered by the hash.
	base := chain(1)[0]
	mutations := []func(r *AuditRecord){
		func(r *AuditRecord) { r.Seq++ }, func(r *AuditRecord) { r.Time = r.Time.Add(time.Microsecond) },
		func(r *AuditRecord) { r.Actor += "x" }, func(r *AuditRecord) { r.Role += "x" },
		func(r *AuditRecord) { r.Address += "x" }, func(r *AuditRecord) { r.Action += "x" },
		func(r *AuditRecord) { r.Object += "x" }, func(r *AuditRecord) { r.Patient += "x" },
		func(r *AuditRecord) { r.Outcome++ }, func(r *AuditRecord) { r.Detail += "x" },
		func(r *AuditRecord) { r.RequestID += "x" }, func(r *AuditRecord) { r.Node += "x" },
		func(r *AuditRecord) { r.PrevHash = "x" },
	}
	for i, m := range mutations {
		r := *base
		m(&r)
		if r.ComputeHash() == base.Hash {
			t.Errorf("mutation %d does not change the hash", i)
		}
	}
	// Moving text between adjacent fields changes the hash too.
	a, b := *base, *base
	a.Actor, a.Role = "ab", "c"
	b.Actor, b.Role = "a", "bc"
	if a.ComputeHash() == b.ComputeHash() {
		t.Error("field boundaries are not part of the hash")
	}
}

func TestErrorTaxonomy(t *testing.T) {
	e := WrapError(EUNAVAILABLE, errIO, "store down")
	if ErrorCode(e) != EUNAVAILABLE || !IsRetryable(e) || ErrorMessage(e) != "store down" {
		t.Fatalf("wrapped: %s %v %s", ErrorCode(e), IsRetryable(e), ErrorMessage(e))
	}
	if ErrorCode(errIO) != EINTERNAL || ErrorMessage(errIO) != "internal error" || IsRetryable(errIO) {
		t.Fatal("plain errors must be internal and hide their text")
	}
	if ErrorCode(nil) != "" {
		t.Fatal("nil has no code")
	}
}

var errIO = &plainError{"disk on fire"}

type plainError struct{ s string }

func (e *plainError) Error() string { return e.s }

func TestHTTPOutcome(t *testing.T) {
	for status, want := range map[int]Outcome{200: OutcomeSuccess, 204: OutcomeSuccess, 304: OutcomeSuccess, 400: OutcomeMinor,
		404: OutcomeMinor, 499: OutcomeMinor, 500: OutcomeSerious, 503: OutcomeSerious} {
		if got := HTTPOutcome(status); got != want {
			t.Errorf("HTTPOutcome(%d) = %d, want %d", status, got, want)
		}
	}
}
