package shell

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// DefaultTTL is how long a ticket may wait to be used.
const DefaultTTL = 30 * time.Second

// Limits of a Target's command.
const (
	MaxArgs      = 16
	MaxArgLength = 1024
)

// maxTicket bounds the ticket read from a request: a sealed Target at its
// largest, base64, with room to spare.
const maxTicket = 64 << 10

const purpose = "drover/shell-ticket"

// spentMargin is how long past its expiry a spent ticket is remembered.
const spentMargin = 10 * time.Minute

// Target is the exec a ticket approves.
type Target struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	// Container is empty for the pod's default container.
	Container string   `json:"container,omitempty"`
	Command   []string `json:"command"`
}

// Validate says what is wrong with t, field by field.
func (t Target) Validate() field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(t.Namespace) {
		errs = append(errs, field.Invalid(field.NewPath("namespace"), t.Namespace, msg))
	}
	for _, msg := range validation.IsDNS1123Subdomain(t.Pod) {
		errs = append(errs, field.Invalid(field.NewPath("pod"), t.Pod, msg))
	}
	if t.Container != "" {
		for _, msg := range validation.IsDNS1123Label(t.Container) {
			errs = append(errs, field.Invalid(field.NewPath("container"), t.Container, msg))
		}
	}
	cmd := field.NewPath("command")
	switch {
	case len(t.Command) == 0:
		errs = append(errs, field.Required(cmd, "name the program to run, for example sh"))
	case len(t.Command) > MaxArgs:
		errs = append(errs, field.TooMany(cmd, len(t.Command), MaxArgs))
	}
	for i, a := range t.Command[:min(len(t.Command), MaxArgs)] {
		switch {
		case a == "":
			errs = append(errs, field.Invalid(cmd.Index(i), a, "an argument may not be empty"))
		case len(a) > MaxArgLength:
			errs = append(errs, field.TooLong(cmd.Index(i), "", MaxArgLength))
		case !utf8.ValidString(a):
			errs = append(errs, field.Invalid(cmd.Index(i), "", "must be valid UTF-8"))
		}
	}
	return errs
}

// Sealer seals and opens the tickets (package seal).
type Sealer interface {
	Seal(plain []byte, purpose string) ([]byte, error)
	Open(blob []byte, purpose string) ([]byte, error)
}

// Spender records a secret as spent where every replica sees it
// (store.Store): fresh is false when it was spent already.
type Spender interface {
	SpendSecret(ctx context.Context, digest []byte, expires, now time.Time) (fresh bool, err error)
}

// Options configure Tickets.
type Options struct {
	Sealer Sealer
	Spent  Spender
	// Now is the clock; default time.Now.
	Now func() time.Time
	// TTL is how long a ticket may wait to be used; default DefaultTTL.
	TTL time.Duration
}

// Tickets issues and redeems shell tickets.
type Tickets struct{ opts Options }

// NewTickets returns Tickets.
func NewTickets(opts Options) *Tickets {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	return &Tickets{opts: opts}
}

// Holder is whom a ticket is issued to and who may redeem it.
type Holder struct {
	SessionID, UserID, ClusterID string
}

// claims is a ticket's sealed content.
type claims struct {
	Holder  Holder `json:"holder"`
	Target  Target `json:"target"`
	Expires int64  `json:"exp"` // Unix milliseconds
}

// Errors of Redeem.
var (
	// ErrInvalid: not a ticket of this service, expired, or another
	// holder's; the reason is for the log only.
	ErrInvalid = errors.New("shell ticket invalid")
	// ErrSpent: the ticket was used already.
	ErrSpent = errors.New("shell ticket used already")
)

// Issue seals a ticket for h to run t; t must be valid.
func (k *Tickets) Issue(h Holder, t Target) (ticket string, expires time.Time, err error) {
	if errs := t.Validate(); len(errs) > 0 {
		return "", time.Time{}, errs.ToAggregate()
	}
	expires = k.opts.Now().Add(k.opts.TTL)
	plain, err := json.Marshal(claims{Holder: h, Target: t, Expires: expires.UnixMilli()})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("shell ticket: %w", err)
	}
	blob, err := k.opts.Sealer.Seal(plain, purpose)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("shell ticket: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(blob), expires, nil
}

// Redeem opens ticket, checks that it was issued to h and is unexpired,
// and spends it: its Target, or ErrInvalid, ErrSpent or the store's error
// (then nothing is approved).
func (k *Tickets) Redeem(ctx context.Context, ticket string, h Holder) (Target, error) {
	if len(ticket) == 0 || len(ticket) > maxTicket {
		return Target{}, fmt.Errorf("%w: %d bytes", ErrInvalid, len(ticket))
	}
	blob, err := base64.RawURLEncoding.DecodeString(ticket)
	if err != nil {
		return Target{}, fmt.Errorf("%w: not base64url", ErrInvalid)
	}
	plain, err := k.opts.Sealer.Open(blob, purpose)
	if err != nil {
		return Target{}, fmt.Errorf("%w: does not open", ErrInvalid)
	}
	var c claims
	if err := json.Unmarshal(plain, &c); err != nil {
		return Target{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	now := k.opts.Now()
	expires := time.UnixMilli(c.Expires)
	switch {
	case expires.After(now.Add(k.opts.TTL + spentMargin)):
		// Further ahead than a ticket lives, even from a replica whose
		// clock runs ahead (within spentMargin).
		return Target{}, fmt.Errorf("%w: expires further ahead than a ticket lives", ErrInvalid)
	case !now.Before(expires):
		return Target{}, fmt.Errorf("%w: expired %v ago", ErrInvalid, now.Sub(expires).Round(time.Millisecond))
	case c.Holder != h:
		return Target{}, fmt.Errorf("%w: issued to another session, user or cluster", ErrInvalid)
	case len(c.Target.Validate()) > 0:
		return Target{}, fmt.Errorf("%w: its target is not valid", ErrInvalid)
	}
	digest := sha256.Sum256(blob)
	// Remembered well past the expiry: replicas sweep spent secrets by
	// their own clocks, and one running ahead must not forget a ticket
	// that another, behind, still honours.
	fresh, err := k.opts.Spent.SpendSecret(ctx, digest[:], expires.Add(spentMargin), now)
	switch {
	case err != nil:
		return Target{}, fmt.Errorf("spend the shell ticket: %w", err)
	case !fresh:
		return Target{}, ErrSpent
	}
	return c.Target, nil
}
