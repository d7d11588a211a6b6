// Package session owns login sessions' wire format: short-lived JWTs
// (github.com/golang-jwt/jwt/v5, HS256) with a `kid` header, signed with
// keys generated from crypto/rand and persisted (mode 0600) in the data
// directory.
//
// Keys rotate: a new key signs from the moment it is made, and older keys
// keep verifying until every token they signed has expired, then they are
// dropped. A JWT names its session (jti); the session itself is a row in
// the store, so logout and revocation delete it and the JWT is refused even
// before it expires.
//
// It must never log a key or a token, never accept an unsigned or
// differently-signed token ("alg": "none", RS/HS confusion), and never
// accept a token without an expiry.
package session
