package browser

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// makeNSSDB creates home/.pki/nssdb, the NSS database Chromium on Linux
// reads its locally trusted CAs from, with an empty password, and adds each
// certificate of caPEM as trusted to issue server certificates ("C,,").
func makeNSSDB(ctx context.Context, certutil, home string, caPEM []byte) error {
	dir := filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("browser: %s is not empty: the NSS database must be fresh", dir)
	}
	db := "sql:" + dir
	if err := run(ctx, certutil, "-N", "-d", db, "--empty-password"); err != nil {
		return err
	}
	n := 0
	for rest := caPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		f := filepath.Join(home, fmt.Sprintf("ca-%d.crt", n))
		if err := os.WriteFile(f, pem.EncodeToMemory(block), 0o600); err != nil {
			return err
		}
		if err := run(ctx, certutil, "-A", "-d", db, "-n", fmt.Sprintf("test-ca-%d", n), "-t", "C,,", "-i", f); err != nil {
			return err
		}
		n++
	}
	if n == 0 && len(caPEM) > 0 {
		return errors.New("browser: Options.CAPEM holds no PEM certificate")
	}
	return nil
}

func run(ctx context.Context, bin string, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("browser: %s %v: %w: %s", bin, args, err, out)
	}
	return nil
}
