// Package seal owns the encryption of every secret Drover stores (auth
// provider configurations, users' refresh credentials, provisioned
// clusters' configs, credentials and driver errors) and the key file it
// uses.
//
// A Sealer seals with AES-256-GCM: a blob is a version byte (1), a random
// 12-byte nonce and the ciphertext with its tag, and the caller's purpose
// (for example "drover/user/<id>/refresh") is the additional data, so a
// blob copied to another row or column does not open. The format is what
// is on disk: changing it needs a new version byte and the old one kept
// readable.
//
// The key is KeySize random bytes, base64 in a file (by default
// secrets.key in the data directory) created on first start with mode
// 0600; a key file others may read is refused.
//
// This package must never log a key, put one in an error or hand one out
// (LoadOrCreate returns a Sealer, not the key), and never accept a key
// shorter (or longer) than KeySize.
package seal
