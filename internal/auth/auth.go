// Package auth issues, revokes and checks bearer tokens. Every issue and
// revocation is written to the audit trail in the same transaction.
package auth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/concord-health/concord"
)

// Issue creates a token for req and returns it with the bearer string to
// hand to its holder. by carries who asks (actor, role, address, request,
// node); the audit record of the issue is written with the token.
func Issue(ctx context.Context, s concord.Store, req concord.TokenRequest, by concord.AuditRecord, now time.Time) (*concord.Token, string, error) {
	tok, bearer, err := concord.NewToken(req, now)
	if err != nil {
		return nil, "", err
	}
	rec := by
	rec.Time = now
	rec.Action = concord.AuditIssue
	rec.Object = "token/" + tok.ID
	rec.Patient = tok.Patient
	rec.Outcome = concord.OutcomeSuccess
	rec.Detail = fmt.Sprintf("role=%s scopes=%s expires=%s", tok.Role, strings.Join(tok.Scopes, ","), tok.ExpiresAt.Format(time.RFC3339))
	err = s.Update(ctx, func(tx concord.Tx) error {
		if err := tx.CreateToken(ctx, tok); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &rec)
	})
	if err != nil {
		return nil, "", err
	}
	return tok, bearer, nil
}

// Revoke revokes the token with the given ID. A refused revocation (unknown
// or already revoked token) is audited too, as a minor failure.
func Revoke(ctx context.Context, s concord.Store, id string, by concord.AuditRecord, now time.Time) error {
	rec := by
	rec.Time = now
	rec.Action = concord.AuditRevoke
	rec.Object = "token/" + id
	err := s.Update(ctx, func(tx concord.Tx) error {
		if err := tx.RevokeToken(ctx, id, now); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &rec)
	})
	switch concord.ErrorCode(err) {
	case "":
		return nil
	case concord.ENOTFOUND, concord.ECONFLICT:
		rec.Outcome = concord.OutcomeMinor
		rec.Detail = concord.ErrorMessage(err)
		if aerr := s.Update(ctx, func(tx concord.Tx) error { return tx.AppendAudit(ctx, &rec) }); aerr != nil {
			return aerr
		}
	}
	return err
}

// Authenticate checks an HTTP Authorization header value and returns the
// principal its token speaks for. Every failure is EUNAUTHORIZED with a
// message that does not tell which part was wrong beyond what the holder
// of a real token needs (revoked, expired). The token is returned too,
// when one was found, for auditing a refused attempt.
func Authenticate(ctx context.Context, s concord.Store, header string, now time.Time) (*concord.Principal, *concord.Token, error) {
	scheme, bearer, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, nil, concord.Errorf(concord.EUNAUTHORIZED, "a bearer token is required")
	}
	id, secret, err := concord.ParseBearer(strings.TrimSpace(bearer))
	if err != nil {
		return nil, nil, err
	}
	tok, err := s.Token(ctx, id)
	if concord.ErrorCode(err) == concord.ENOTFOUND {
		return nil, nil, concord.Errorf(concord.EUNAUTHORIZED, "invalid token")
	} else if err != nil {
		return nil, nil, concord.WrapError(concord.EUNAVAILABLE, err, "token store unavailable")
	}
	if err := tok.Check(secret, now); err != nil {
		if err.Error() == "invalid token" {
			return nil, nil, err // a wrong secret does not identify the token's owner
		}
		return nil, tok, err
	}
	p, err := tok.Principal()
	if err != nil {
		return nil, tok, concord.WrapError(concord.EUNAUTHORIZED, err, "token no longer valid")
	}
	return p, tok, nil
}
