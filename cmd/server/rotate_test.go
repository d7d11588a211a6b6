package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/pkg/pki"
)

func TestRunRotate(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	first, err := pki.LoadOrCreate(filepath.Join(dir, "tls"), []string{"127.0.0.1"}, pki.Files{}, now)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		step, wantOut, wantErr string
	}{
		{step: "finish", wantErr: "no CA rotation is prepared"},
		{step: "prepare", wantOut: "Next CA checksum"},
		{step: "prepare", wantErr: "prepared already"},
		{step: "status", wantOut: "CA checksum: " + first.Checksum()},
		{step: "finish", wantOut: "The CA " + first.Checksum() + " is retired"},
		{step: "abort", wantErr: "no CA rotation is prepared"},
	}
	for _, s := range steps {
		var out bytes.Buffer
		err := runRotate(&RotateOptions{DataDir: dir, Step: s.step}, &out, now)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Errorf("%s: err %v, want %q", s.step, err, s.wantErr)
			}
			continue
		}
		if err != nil || !strings.Contains(out.String(), s.wantOut) {
			t.Errorf("%s: err %v, out %q, want %q", s.step, err, out.String(), s.wantOut)
		}
	}
	r, err := pki.RotationOf(filepath.Join(dir, "tls"))
	if err != nil || r.Current == first.Checksum() || r.Next != "" || r.Generations != 2 {
		t.Errorf("after the rotation: %+v, %v", r, err)
	}
}
