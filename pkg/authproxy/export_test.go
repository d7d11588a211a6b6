package authproxy

import "time"

// SetNestedTimeout sets the deadline of one nested impersonation check, so
// a test need not wait the 10 s of production.
func (p *Proxy) SetNestedTimeout(d time.Duration) { p.nested.timeout = d }

// RefusalTTL is how long a refused nested impersonation is reused.
const RefusalTTL = refusalTTL

// MaxInFlightPerUser is how many nested checks one user may have running.
const MaxInFlightPerUser = maxInFlightPerUser
