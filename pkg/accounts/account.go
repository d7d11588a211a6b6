package accounts

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/drover-dev/drover/pkg/downstream"
	"github.com/drover-dev/drover/pkg/impersonation"
)

// Kinds of account.
const (
	KindOwn = "own" // a Drover user's own identity
	KindAs  = "as"  // an identity a user was allowed to act as (kubectl --as)
)

// Own is the account of a Drover user acting as themself: their username,
// their Drover groups (downstream.AdminGroup for admins), system:
// authenticated, and Drover's extras (the token id may be any: it varies per
// token; the user id is theirs).
func Own(username, userID string, groups []string) downstream.Account {
	return downstream.Account{
		User:   username,
		Groups: append(slices.Clone(groups), impersonation.Authenticated),
		Extra: map[string][]string{
			downstream.ExtraTokenID: nil,
			downstream.ExtraUserID:  {userID},
		},
	}
}

// As is the account of an identity a Drover user was allowed to act as
// (kubectl --as and the rest): the requested user, groups (with
// system:authenticated, as impersonation.Set sends them; none for a
// ServiceAccount asked for without groups), uid and extras, and Drover's
// extras naming the Drover user behind it. Drover's extras win over any of
// the request's (impersonation.ParseRequest refuses those anyway).
func As(req impersonation.Request, originalUser, userID string) downstream.Account {
	a := downstream.Account{User: req.User, UID: req.UID, Extra: map[string][]string{}}
	ns, name, sa := impersonation.SplitServiceAccount(req.User)
	if sa {
		a.ServiceAccount = &downstream.NamespacedName{Namespace: ns, Name: name}
	}
	if !sa || len(req.Groups) > 0 {
		a.Groups = append(slices.Clone(req.Groups), impersonation.Authenticated)
	}
	for k, vs := range req.Extra {
		a.Extra[k] = slices.Clone(vs)
	}
	a.Extra[downstream.ExtraTokenID] = nil
	a.Extra[downstream.ExtraUserID] = []string{userID}
	a.Extra[downstream.ExtraOriginalUser] = []string{originalUser}
	return a
}

// Name is an account's name: downstream.AccountPrefix and a digest of
// everything it may act as, so two identities never share an account and a
// changed identity gets a new one.
func Name(a downstream.Account) string {
	// It runs on every proxied request: appends into one buffer, no fmt.
	b := make([]byte, 0, 256)
	str := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
		b = append(b, ';')
	}
	list := func(ss []string) {
		c := ss
		if !sortedUnique(c) {
			c = slices.Compact(slices.Sorted(slices.Values(ss)))
		}
		b = strconv.AppendInt(b, int64(len(c)), 10)
		b = append(b, '[')
		for _, s := range c {
			str(s)
		}
		b = append(b, ']')
	}
	str(a.User)
	list(a.Groups)
	str(a.UID)
	keys := make([]string, 0, len(a.Extra))
	for k := range a.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = strconv.AppendInt(b, int64(len(keys)), 10)
	b = append(b, '{')
	for _, k := range keys {
		str(k)
		list(a.Extra[k])
	}
	if sa := a.ServiceAccount; sa != nil {
		str(sa.Namespace)
		str(sa.Name)
	}
	sum := sha256.Sum256(b)
	return downstream.AccountPrefix + hex.EncodeToString(sum[:16])
}

// sortedUnique reports whether ss is sorted without repeats (usually so:
// the identity's groups are sorted once when it is built).
func sortedUnique(ss []string) bool {
	for i := 1; i < len(ss); i++ {
		if ss[i-1] >= ss[i] {
			return false
		}
	}
	return true
}

// ErrRefused is why Check refuses an identity.
var ErrRefused = errors.New("identity refused")

// Refusal is the error Check returns; errors.Is(err, ErrRefused) holds.
// Reason says what is refused, safely for the client that asked.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return ErrRefused.Error() + ": " + r.Reason }

// Is makes a Refusal match ErrRefused.
func (r *Refusal) Is(target error) bool { return target == ErrRefused }

func refuse(format string, args ...any) error {
	return &Refusal{Reason: fmt.Sprintf(format, args...)}
}

// ReservedNamespaces hold the ServiceAccounts no account may act as: the
// cluster's own (kube-system, kube-public, kube-node-lease) and Drover's
// (downstream.Namespace: the controller, the agents, the accounts
// themselves).
func ReservedNamespaces() []string {
	return []string{"kube-system", "kube-public", "kube-node-lease", downstream.Namespace}
}

// Check refuses an account that could act as anything Drover never
// forwards: system:masters and every system: group but system:authenticated,
// any system: or drover: user (the controller, nodes, anonymous) but a
// ServiceAccount outside ReservedNamespaces, Drover's own groups (the admin
// group only when admin: the Drover user is a global admin), a system: uid,
// and extras in Drover's drover.dev/ space other than Drover's own three.
// Every extra but drover.dev/token-id must be pinned to its values.
func Check(a downstream.Account, admin bool) error {
	if a.User == "" {
		return refuse("no user")
	}
	ns, name, sa := impersonation.SplitServiceAccount(a.User)
	switch {
	case sa:
		if a.ServiceAccount == nil || a.ServiceAccount.Namespace != ns || a.ServiceAccount.Name != name {
			return refuse("user %q does not match the account's ServiceAccount", a.User)
		}
		if slices.Contains(ReservedNamespaces(), ns) {
			return refuse("ServiceAccounts of namespace %q are reserved", ns)
		}
	case a.ServiceAccount != nil:
		return refuse("user %q is not the account's ServiceAccount", a.User)
	case strings.HasPrefix(a.User, "system:"), strings.HasPrefix(a.User, "drover:"):
		return refuse("user %q is reserved", a.User)
	}
	for _, g := range a.Groups {
		switch {
		case g == impersonation.Authenticated:
		case g == downstream.AdminGroup:
			if !admin {
				return refuse("group %q is for Drover admins", g)
			}
		case strings.HasPrefix(g, "system:"), strings.HasPrefix(g, "drover:"):
			return refuse("group %q is reserved", g)
		}
	}
	if strings.HasPrefix(a.UID, "system:") {
		return refuse("uid %q is reserved", a.UID)
	}
	for k, vs := range a.Extra {
		switch {
		case k == downstream.ExtraTokenID: // any value: it varies per token
		case k == "":
			return refuse("an extra has no key")
		case len(vs) == 0:
			return refuse("extra %q is not pinned to values", k)
		case k == downstream.ExtraUserID, k == downstream.ExtraOriginalUser:
		case strings.HasPrefix(strings.ToLower(k), impersonation.DroverExtraPrefix):
			return refuse("extra %q is Drover's to set", k)
		}
	}
	return nil
}
