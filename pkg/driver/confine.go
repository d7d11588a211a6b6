package driver

import (
	"errors"
	"fmt"
	"os"
)

// The driver user's ids when none are given: in the range systemd leaves
// unused (65536-524287) and below where /etc/subuid ranges usually start
// (100000), so neither a login user, a system user, a DynamicUser= service
// nor a rootless container shares them. No passwd entry is needed.
const (
	DefaultUID = 70000
	DefaultGID = 70000
)

// SandboxOptions say how drivers are confined when the server runs as root
// (package sandbox).
type SandboxOptions struct {
	// UID and GID are the driver user's (default DefaultUID, DefaultGID);
	// pick ids no one else uses.
	UID, GID int
	// Share lists files and directories drivers may read, at their own
	// paths, read-only (the local driver's etcd and kube-apiserver). Their
	// own modes must let the driver user read them.
	Share []string
	// Hide lists the server's files and directories: its data directory,
	// key files, TLS files, audit log. Drivers see them covered.
	Hide []string
}

// ErrUnsandboxed means the server cannot sandbox drivers (it does not run
// as root) and was not told to run them anyway.
var ErrUnsandboxed = errors.New("cluster drivers are refused: the server does not run as root, so it cannot sandbox them, " +
	"and --allow-unsandboxed-drivers is not set")

// refusedError is ErrUnsandboxed in words that say what to do.
type refusedError struct{ uid int }

func (e *refusedError) Error() string {
	return fmt.Sprintf("cluster drivers are refused: the server runs as uid %d, not as root, so it cannot run them "+
		"sandboxed as a user of their own; run it as root, or start it with --allow-unsandboxed-drivers to run them "+
		"as its own user (they can then read its keys and database)", e.uid)
}

func (e *refusedError) Unwrap() error { return ErrUnsandboxed }

// confinement is how this registry runs drivers.
type confinement struct {
	sandbox *SandboxOptions // nil: as the server's user
	refused error           // non-nil: not at all
}

// confine decides how drivers run: sandboxed as root, else as the server's
// user only if allowed, and checks the sandbox's paths.
func confine(o Options, euid int) (confinement, error) {
	if euid != 0 {
		if !o.AllowUnsandboxed {
			return confinement{refused: &refusedError{uid: euid}}, nil
		}
		return confinement{}, nil
	}
	sb := o.Sandbox
	if sb.UID == 0 {
		sb.UID = DefaultUID
	}
	if sb.GID == 0 {
		sb.GID = DefaultGID
	}
	if sb.UID < 0 || sb.GID < 0 {
		return confinement{}, fmt.Errorf("driver uid %d / gid %d: must not be negative", sb.UID, sb.GID)
	}
	hide := make([]string, 0, len(sb.Hide)+1)
	for _, h := range append([]string{o.Dir}, sb.Hide...) {
		if h == "" {
			continue
		}
		r, err := resolve(h)
		if err != nil {
			return confinement{}, fmt.Errorf("hide %s from drivers: %w", h, err)
		}
		hide = append(hide, r)
	}
	state, err := resolve(o.StateDir)
	if err != nil {
		return confinement{}, fmt.Errorf("driver state directory: %w", err)
	}
	if err := checkOverlap("the driver state directory", state, hide); err != nil {
		return confinement{}, err
	}
	share := make([]string, 0, len(sb.Share))
	for _, p := range sb.Share {
		r, err := resolve(p)
		if err == nil {
			_, err = os.Stat(r)
		}
		if err != nil {
			return confinement{}, fmt.Errorf("share %s with drivers: %w", p, err)
		}
		if err := checkOverlap("the driver share", r, hide); err != nil {
			return confinement{}, err
		}
		share = append(share, r)
	}
	sb.Hide, sb.Share = hide, share
	return confinement{sandbox: &sb}, nil
}
