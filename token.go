package concord

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
	"time"
)

// TokenPrefix starts every bearer token Concord issues, so that secret
// scanners and log filters can recognise one.
const TokenPrefix = "cnc_"

// MaxTokenTTL is the longest lifetime a token may be given.
const MaxTokenTTL = 366 * 24 * time.Hour

// Token is an issued bearer credential. Only a hash of its secret is stored;
// the secret itself is shown once, when the token is created.
type Token struct {
	ID        string
	Hash      []byte // SHA-256 of the secret
	Role      Role
	Patient   string   // the patient a patient-context token is bound to
	Scopes    []string // SMART scopes, validated for the role
	Label     string   // free text: who or what the token is for
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time // zero while the token is live
}

// TokenRequest is what is asked for when a token is created.
type TokenRequest struct {
	Role      Role
	Patient   string
	Scopes    []string // empty: the role's defaults
	Label     string
	TTL       time.Duration
	CreatedBy string
}

// NewToken validates req and returns a new token and the bearer string to
// hand to its holder. The bearer string is not kept anywhere.
func NewToken(req TokenRequest, now time.Time) (*Token, string, error) {
	if _, err := ParseRole(string(req.Role)); err != nil {
		return nil, "", err
	}
	if req.TTL <= 0 || req.TTL > MaxTokenTTL {
		return nil, "", Errorf(EINVALID, "token lifetime must be more than 0 and at most %s", MaxTokenTTL)
	}
	if req.Patient != "" && !IsFHIRID(req.Patient) {
		return nil, "", Errorf(EINVALID, "patient %q is not a FHIR id (1-64 of A-Z a-z 0-9 - .)", req.Patient)
	}
	scopes := req.Scopes
	if len(scopes) == 0 {
		scopes = req.Role.DefaultScopes()
	}
	if _, err := req.Role.CheckScopes(req.Patient, scopes); err != nil {
		return nil, "", err
	}
	id, err := NewID(now)
	if err != nil {
		return nil, "", err
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, "", WrapError(EINTERNAL, err, "random source")
	}
	sec := base64.RawURLEncoding.EncodeToString(secret[:])
	sum := sha256.Sum256([]byte(sec))
	now = now.UTC().Truncate(time.Microsecond)
	t := &Token{
		ID:        id,
		Hash:      sum[:],
		Role:      req.Role,
		Patient:   req.Patient,
		Scopes:    scopes,
		Label:     req.Label,
		CreatedBy: req.CreatedBy,
		CreatedAt: now,
		ExpiresAt: now.Add(req.TTL),
	}
	return t, TokenPrefix + id + "." + sec, nil
}

// ParseBearer splits a bearer string into the token ID and its secret. It
// only checks the shape; Check verifies the secret.
func ParseBearer(s string) (id, secret string, err error) {
	rest, ok := strings.CutPrefix(s, TokenPrefix)
	if !ok || len(s) > 200 {
		return "", "", Errorf(EUNAUTHORIZED, "not a Concord token")
	}
	id, secret, ok = strings.Cut(rest, ".")
	if !ok || id == "" || secret == "" {
		return "", "", Errorf(EUNAUTHORIZED, "not a Concord token")
	}
	return id, secret, nil
}

// Check verifies secret against the stored hash in constant time and that
// the token is neither revoked nor expired at now.
func (t *Token) Check(secret string, now time.Time) error {
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], t.Hash) != 1 {
		return Errorf(EUNAUTHORIZED, "invalid token")
	}
	if !t.RevokedAt.IsZero() {
		return Errorf(EUNAUTHORIZED, "token revoked")
	}
	if !now.Before(t.ExpiresAt) {
		return Errorf(EUNAUTHORIZED, "token expired")
	}
	return nil
}

// Status returns "active", "revoked" or "expired" at now.
func (t *Token) Status(now time.Time) string {
	switch {
	case !t.RevokedAt.IsZero():
		return "revoked"
	case !now.Before(t.ExpiresAt):
		return "expired"
	}
	return "active"
}

// Principal returns who the token speaks for, with its scopes parsed.
func (t *Token) Principal() (*Principal, error) {
	scopes, err := t.Role.CheckScopes(t.Patient, t.Scopes)
	if err != nil {
		return nil, err
	}
	return &Principal{Actor: t.ID, Role: t.Role, Patient: t.Patient, Scopes: scopes}, nil
}
