package concord

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"
)

// BindingToken is a one-time credential that binds a websocket
// connection to subscriptions (the R5 Backport's
// $get-ws-binding-token): browsers cannot send a bearer token on a
// websocket upgrade, so a client asks for one of these with its bearer
// token and sends it as its first message. Only its hash is stored.
type BindingToken struct {
	Hash          string    // hex SHA-256 of the token (HashBindingToken)
	Actor         string    // the bearer token (its ID) of the principal that asked for it
	Subscriptions []string  // the Subscription ids it binds
	Expires       time.Time // not valid from then on
}

// NewBindingToken returns a fresh random binding token (32 bytes from
// crypto/rand, base64url without padding).
func NewBindingToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", WrapError(EINTERNAL, err, "no random source")
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// HashBindingToken is the stored form of a binding token.
func HashBindingToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}
