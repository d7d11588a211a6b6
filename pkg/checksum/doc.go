// Package checksum owns the text form of a SHA-256 checksum as Drover writes
// and accepts it: 64 hex characters. Drover writes lower case (Of, Hasher);
// it accepts either case from users (Parse) and compares checksums only in
// the normalised lower-case form (Equal), so a checksum that sha256sum
// printed and one an admin typed in capitals are the same checksum
// everywhere: the agent's --ca-checksum (CATTLE_CA_CHECKSUM), the agent
// manifest's options and a cluster driver's install checksum.
//
// The agent links this package: it must never import anything beyond the
// standard library. Checksums are public, but its errors must never quote
// their input all the same (a mistyped value may be something else pasted
// by mistake).
package checksum
