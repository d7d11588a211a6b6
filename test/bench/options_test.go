package main

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		modify  func(*Options)
		wantErr string // substring; empty means valid
	}{
		{name: "defaults", modify: func(*Options) {}},
		{name: "profiling", modify: func(o *Options) { o.CPUProfileDir = "/tmp/prof" }},
		{name: "all encodings", modify: func(o *Options) { o.ListEncodings = stringList{encGzip, encIdentity, encIdentityHeader} }},
		{name: "short get", modify: func(o *Options) { o.GetDuration = 100 * time.Millisecond }, wantErr: "-get-duration"},
		{name: "long list", modify: func(o *Options) { o.ListDuration = 2 * time.Minute }, wantErr: "-list-duration"},
		{name: "negative warmup", modify: func(o *Options) { o.Warmup = -time.Second }, wantErr: "-warmup"},
		{name: "no concurrency", modify: func(o *Options) { o.GetConcurrency = nil }, wantErr: "-get-concurrency"},
		{name: "zero streams", modify: func(o *Options) { o.ListStreams = intList{0} }, wantErr: "-list-streams"},
		{name: "unknown encoding", modify: func(o *Options) { o.ListEncodings = stringList{"br"} }, wantErr: "-list-encodings"},
		{name: "object over the ConfigMap limit", modify: func(o *Options) { o.ObjectSize = 2 << 20 }, wantErr: "-object-size"},
		{name: "no objects", modify: func(o *Options) { o.Objects = 0 }, wantErr: "-objects"},
		{name: "bad log level", modify: func(o *Options) { o.ServerLogLevel = "trace" }, wantErr: "-server-log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewOptions()
			tt.modify(o)
			err := o.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestFlags(t *testing.T) {
	o := NewOptions()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o.Flags(fs)
	if err := fs.Parse([]string{"-get-concurrency", "2, 8", "-list-encodings", "identity,identity-header"}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(intList{2, 8}, o.GetConcurrency); d != "" {
		t.Errorf("GetConcurrency (-want +got):\n%s", d)
	}
	if d := cmp.Diff(stringList{encIdentity, encIdentityHeader}, o.ListEncodings); d != "" {
		t.Errorf("ListEncodings (-want +got):\n%s", d)
	}
	if err := fs.Parse([]string{"-list-streams", "x"}); err == nil {
		t.Error("-list-streams x parsed without error")
	}
}
