package server

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBusyPortBeforeAnything occupies the server's port (or its metrics
// port) and checks that Run fails naming it, before it made the data
// directory or printed anything (the bootstrap password above all).
func TestBusyPortBeforeAnything(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	tests := []struct {
		name            string
		listen, metrics string
		wantErr         string
	}{
		{name: "the HTTPS port", listen: busy.Addr().String(), wantErr: "listen on " + busy.Addr().String() + ": "},
		{name: "the metrics port", listen: free(), metrics: busy.Addr().String(),
			wantErr: "metrics listener on " + busy.Addr().String() + ": "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			var stdout, logs bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := Run(ctx, Config{DataDir: dir, Listen: tc.listen, MetricsListen: tc.metrics,
				ServerURL: "https://" + tc.listen, AdminUsername: "admin",
				Logger: slog.New(slog.NewTextHandler(&logs, nil)), Stdout: &stdout})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, syscall.EADDRINUSE) {
				t.Fatalf("Run = %v, want an error containing %q (address in use)", err, tc.wantErr)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the data directory was made (stat: %v)", err)
			}
			if stdout.Len() != 0 || logs.Len() != 0 {
				t.Errorf("printed before failing:\nstdout: %q\nlog: %q", stdout.String(), logs.String())
			}
			if tc.metrics != "" {
				// The main port was let go again.
				l, err := net.Listen("tcp", tc.listen)
				if err != nil {
					t.Errorf("the HTTPS port stayed bound: %v", err)
				} else {
					l.Close()
				}
			}
		})
	}
}

func TestLockDataDir(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	unlock, err := lockDataDir(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	// flock conflicts between open files, even in one process.
	_, err = lockDataDir(dir, log)
	if !errors.Is(err, ErrDataDirInUse) {
		t.Fatalf("second lock: %v, want ErrDataDirInUse", err)
	}
	if want := "process " + strconv.Itoa(os.Getpid()) + " holds"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the holder (%q)", err, want)
	}
	unlock()
	again, err := lockDataDir(dir, log)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	again()
}
