package idp

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// DexVersion is the Dex release that `make idp` builds (DEX_VERSION in
// mk/idp.mk; github.com/dexidp/dex in tools/dex/go.mod at that tag's commit).
const DexVersion = "v2.41.1"

// Environment variables that mk/idp.mk exports and that override where the
// binaries are looked for.
const (
	EnvDex   = "DEX"
	EnvSlapd = "SLAPD"
)

// Debian's paths for OpenLDAP's server, its loadable modules and schemas.
const (
	defaultSlapd = "/usr/sbin/slapd"
	moduleDir    = "/usr/lib/ldap"
	schemaDir    = "/etc/ldap/schema"
)

// FindSlapd returns the slapd binary: $SLAPD, else Debian's path. The error
// says to run `make idp` when it is missing.
func FindSlapd() (string, error) {
	p := os.Getenv(EnvSlapd)
	if p == "" {
		p = defaultSlapd
	}
	if err := executable("slapd", p); err != nil {
		return "", err
	}
	for _, f := range []string{filepath.Join(moduleDir, "back_mdb.la"), filepath.Join(moduleDir, "ppolicy.la"), filepath.Join(schemaDir, "inetorgperson.schema")} {
		if _, err := os.Stat(f); err != nil {
			return "", fmt.Errorf("idp: slapd is at %s but %s is missing (Debian's slapd package lays it out); run `make idp`", p, f)
		}
	}
	return p, nil
}

// FindDex returns the Dex binary: $DEX, else where `make idp` builds it,
// $HOME/.cache/drover/tools/dex-<DexVersion>/dex. The error says to run
// `make idp` when it is missing.
func FindDex() (string, error) {
	p := os.Getenv(EnvDex)
	if p == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("idp: no home directory to find dex in (set %s or run `make idp`): %w", EnvDex, err)
		}
		p = filepath.Join(home, ".cache", "drover", "tools", "dex-"+DexVersion, "dex")
	}
	return p, executable("dex", p)
}

func executable(name, path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("idp: %s not found at %s; run `make idp` to install it", name, path)
	case err != nil:
		return fmt.Errorf("idp: %s: %w; run `make idp`", name, err)
	case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("idp: %s at %s is not an executable file; run `make idp`", name, path)
	}
	return nil
}
