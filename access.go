package concord

import "context"

// Access is what a front door route declares: the action a caller must be
// allowed, and how the request is audited. The server enforces it with the
// one authoriser (Authorize) before the handler runs.
type Access struct {
	// Public routes (health probes) need no token. Everything else does.
	Public bool
	// AnyCaller routes need a valid token but no particular right (the
	// "no such route" answer, so that any caller learns only that).
	AnyCaller bool
	// Action is checked with Authorize.
	Action Action
	// Audit is the audit action recorded for the request ("read", …);
	// empty means the route is not audited (metrics scrapes). Denied
	// requests are audited whatever this says.
	Audit string
	// Object names what the route acts on in audit records ("api/status").
	Object string
}

type auditTemplateKey struct{}

// WithAuditTemplate returns a context carrying the who-and-where part of
// audit records (actor, role, address, request ID, node) for the request.
func WithAuditTemplate(ctx context.Context, r AuditRecord) context.Context {
	return context.WithValue(ctx, auditTemplateKey{}, r)
}

// AuditTemplateFrom returns the audit template carried by ctx. Handlers
// that write copy it, fill in what they did and append it in the same
// transaction as the change.
func AuditTemplateFrom(ctx context.Context) AuditRecord {
	r, _ := ctx.Value(auditTemplateKey{}).(AuditRecord)
	return r
}

// AuditNote is what a handler tells the front door about the object it
// acted on, for the request's audit record: what it read (message/42) and
// whose data that was.
type AuditNote struct {
	Object  string
	Patient string
}

type auditNoteKey struct{}

// WithAuditNote returns a context carrying an empty note for handlers to
// fill, and the note.
func WithAuditNote(ctx context.Context) (context.Context, *AuditNote) {
	n := &AuditNote{}
	return context.WithValue(ctx, auditNoteKey{}, n), n
}

// NoteAudit records, for the request's audit record, the object acted on
// and the patient whose data it is. It does nothing outside a request
// that the front door audits.
func NoteAudit(ctx context.Context, object, patient string) {
	if n, ok := ctx.Value(auditNoteKey{}).(*AuditNote); ok {
		n.Object, n.Patient = object, patient
	}
}
