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

// As is the account of an identity a Drover user was allowed to act as:
// the requested user and groups, system:authenticated, and Drover's extras
// naming the Drover user behind it.
func As(user string, groups []string, originalUser, userID string) downstream.Account {
	return downstream.Account{
		User:   user,
		Groups: append(slices.Clone(groups), impersonation.Authenticated),
		Extra: map[string][]string{
			downstream.ExtraTokenID:      nil,
			downstream.ExtraUserID:       {userID},
			downstream.ExtraOriginalUser: {originalUser},
		},
	}
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

// Check refuses an account that could act as anything Drover never
// forwards: system:masters and every system: group but system:authenticated,
// any system: or drover: user (the controller, nodes, ServiceAccounts,
// anonymous), Drover's own groups (the admin group only when admin: the
// Drover user is a global admin), and extras other than Drover's own.
func Check(a downstream.Account, admin bool) error {
	if a.User == "" {
		return fmt.Errorf("%w: no user", ErrRefused)
	}
	if a.ServiceAccount != nil || strings.HasPrefix(a.User, "system:") || strings.HasPrefix(a.User, "drover:") {
		return fmt.Errorf("%w: user %q is reserved", ErrRefused, a.User)
	}
	for _, g := range a.Groups {
		switch {
		case g == impersonation.Authenticated:
		case g == downstream.AdminGroup:
			if !admin {
				return fmt.Errorf("%w: group %q is for Drover admins", ErrRefused, g)
			}
		case strings.HasPrefix(g, "system:"), strings.HasPrefix(g, "drover:"):
			return fmt.Errorf("%w: group %q is reserved", ErrRefused, g)
		}
	}
	if a.UID != "" && strings.HasPrefix(a.UID, "system:") {
		return fmt.Errorf("%w: uid %q is reserved", ErrRefused, a.UID)
	}
	for k := range a.Extra {
		switch k {
		case downstream.ExtraTokenID, downstream.ExtraUserID, downstream.ExtraOriginalUser:
		default:
			return fmt.Errorf("%w: extra %q is not Drover's", ErrRefused, k)
		}
	}
	return nil
}
