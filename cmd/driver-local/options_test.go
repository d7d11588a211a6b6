package main

import (
	"flag"
	"io"
	"testing"
)

func TestDriverLocalOptionsValidate(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		wantErr bool
	}{
		{args: []string{"40123"}},
		{args: []string{"unix:/tmp/x.sock"}},
		{args: nil, wantErr: true},
	} {
		o := NewOptions()
		fs := flag.NewFlagSet("driver-local", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		o.Flags(fs)
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		o.Addr = fs.Arg(0)
		if err := o.Validate(); (err != nil) != tt.wantErr {
			t.Errorf("%v: Validate() = %v, want error %v", tt.args, err, tt.wantErr)
		}
	}
}
