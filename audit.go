package concord

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// GenesisHash is the previous-hash of the first audit record.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Outcome is the result of an audited action, with the codes of FHIR
// AuditEvent.outcome (http://hl7.org/fhir/audit-event-outcome).
type Outcome int

// The audit outcomes.
const (
	OutcomeSuccess Outcome = 0  // the action succeeded
	OutcomeMinor   Outcome = 4  // refused or failed because of the request (4xx)
	OutcomeSerious Outcome = 8  // failed because of the server (5xx)
	OutcomeMajor   Outcome = 12 // failed and the server is in trouble
)

// HTTPOutcome is the audit outcome of an HTTP answer's status.
func HTTPOutcome(status int) Outcome {
	switch {
	case status >= 500:
		return OutcomeSerious
	case status >= 400:
		return OutcomeMinor
	}
	return OutcomeSuccess
}

// Audit actions, after FHIR AuditEvent.action (C R U D E) refined with the
// REST interaction or event that happened.
const (
	AuditCreate  = "create"
	AuditRead    = "read"
	AuditUpdate  = "update"
	AuditDelete  = "delete"
	AuditSearch  = "search"
	AuditExecute = "execute"
	AuditLogin   = "login"  // a credential was presented and refused
	AuditIssue   = "issue"  // a credential was issued
	AuditRevoke  = "revoke" // a credential was revoked
)

// AuditRecord is one entry of the append-only, hash-chained audit trail:
// when, who (actor and role), from where, what action on which object, for
// which patient, and with what outcome.
type AuditRecord struct {
	Seq       int64     // position in the chain, from 1, without gaps
	Time      time.Time // UTC, microsecond precision
	Actor     string    // token ID or cli:user@host
	Role      string
	Address   string // network address, or "local" for the command line
	Action    string
	Object    string // what was acted on: "api/status", "token/ab12", "Patient/123"
	Patient   string // the patient whose data was touched, if known
	Outcome   Outcome
	Detail    string // e.g. "GET /api/status 200"
	RequestID string
	Node      string // the Concord node that wrote the record
	PrevHash  string // Hash of record Seq-1, GenesisHash for the first
	Hash      string // ComputeHash of this record
}

// ComputeHash returns the hex SHA-256 of the record's content and PrevHash,
// in a length-prefixed encoding so no two different records share an input.
func (r *AuditRecord) ComputeHash() string {
	h := sha256.New()
	var buf [binary.MaxVarintLen64]byte
	str := func(s string) {
		n := binary.PutUvarint(buf[:], uint64(len(s)))
		h.Write(buf[:n])
		h.Write([]byte(s))
	}
	num := func(v int64) {
		n := binary.PutVarint(buf[:], v)
		h.Write(buf[:n])
	}
	str("concord-audit-v1")
	num(r.Seq)
	num(r.Time.UnixMicro())
	str(r.Actor)
	str(r.Role)
	str(r.Address)
	str(r.Action)
	str(r.Object)
	str(r.Patient)
	num(int64(r.Outcome))
	str(r.Detail)
	str(r.RequestID)
	str(r.Node)
	str(r.PrevHash)
	return hex.EncodeToString(h.Sum(nil))
}

// Seal gives the record its place after head and computes its hash. It
// returns the new head.
func (r *AuditRecord) Seal(head AuditHead) AuditHead {
	r.Time = r.Time.UTC().Truncate(time.Microsecond)
	r.Seq = head.Seq + 1
	r.PrevHash = head.Hash
	r.Hash = r.ComputeHash()
	return AuditHead{Seq: r.Seq, Hash: r.Hash}
}

// AuditHead is the last link of the chain: its sequence number and hash. An
// empty chain has Seq 0 and GenesisHash. Writing the head somewhere outside
// the database (a ticket, a printout) anchors the whole chain.
type AuditHead struct {
	Seq  int64
	Hash string
}

// AuditFilter selects audit records.
type AuditFilter struct {
	Since time.Time // records at or after; zero for all
	Until time.Time // records before; zero for all
	After int64     // records with Seq greater than this
	Limit int       // 0: no limit
}

// AuditBreak describes the first place where an audit chain fails to verify.
type AuditBreak struct {
	Seq    int64
	Reason string
}

func (b *AuditBreak) Error() string {
	return fmt.Sprintf("audit record %d: %s", b.Seq, b.Reason)
}

// AuditVerifier checks records one by one, in the order of their sequence
// numbers, as they are read from the store.
type AuditVerifier struct {
	head AuditHead
	err  *AuditBreak
}

// NewAuditVerifier returns a verifier for a chain that starts at genesis.
func NewAuditVerifier() *AuditVerifier {
	return &AuditVerifier{head: AuditHead{Seq: 0, Hash: GenesisHash}}
}

// Add checks the next record. It returns the first break found so far.
func (v *AuditVerifier) Add(r *AuditRecord) *AuditBreak {
	if v.err != nil {
		return v.err
	}
	want := v.head.Seq + 1
	switch {
	case r.Seq != want:
		v.err = &AuditBreak{Seq: want, Reason: fmt.Sprintf("missing: the next record is %d (records deleted)", r.Seq)}
	case r.PrevHash != v.head.Hash:
		v.err = &AuditBreak{Seq: r.Seq, Reason: fmt.Sprintf("does not follow record %d: its previous hash differs (records deleted, inserted or reordered)", v.head.Seq)}
	case r.ComputeHash() != r.Hash:
		v.err = &AuditBreak{Seq: r.Seq, Reason: "content does not match its hash (record changed)"}
	default:
		v.head = AuditHead{Seq: r.Seq, Hash: r.Hash}
	}
	return v.err
}

// Finish compares the end of the chain with the head the store recorded
// and returns the first break, or nil when the whole chain verifies.
func (v *AuditVerifier) Finish(stored AuditHead) *AuditBreak {
	if v.err != nil {
		return v.err
	}
	if stored.Seq != v.head.Seq || stored.Hash != v.head.Hash {
		if stored.Seq > v.head.Seq {
			return &AuditBreak{Seq: v.head.Seq + 1, Reason: fmt.Sprintf("missing: the chain head is record %d but the log ends at %d (records deleted)", stored.Seq, v.head.Seq)}
		}
		return &AuditBreak{Seq: v.head.Seq, Reason: fmt.Sprintf("does not match the chain head (head %d %s)", stored.Seq, stored.Hash)}
	}
	return nil
}

// Head returns the last verified link.
func (v *AuditVerifier) Head() AuditHead { return v.head }

// VerifyAudit reads the whole audit chain of s in order and checks every
// link. It returns the verified head, or the first break.
func VerifyAudit(ctx context.Context, s Store) (AuditHead, *AuditBreak, error) {
	head, err := s.AuditHead(ctx)
	if err != nil {
		return AuditHead{}, nil, err
	}
	v := NewAuditVerifier()
	errStop := errors.New("stop")
	err = s.AuditRecords(ctx, AuditFilter{}, func(r *AuditRecord) error {
		if v.Add(r) != nil {
			return errStop
		}
		return nil
	})
	if err != nil && err != errStop {
		return AuditHead{}, nil, err
	}
	if b := v.Finish(head); b != nil {
		return v.Head(), b, nil
	}
	return v.Head(), nil, nil
}
