package agentapi

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "an agent that does not say", in: "", want: ""},
		{name: "git describe", in: "v0.2.0-3-gabcdef0-dirty", want: "v0.2.0-3-gabcdef0-dirty"},
		{name: "a Go pseudo-version", in: "v0.0.0-20260101120000-0123456789ab+dirty", want: "v0.0.0-20260101120000-0123456789ab+dirty"},
		{name: "unknown", in: "unknown", want: "unknown"},
		{name: "a space", in: "v1 2", wantErr: true},
		{name: "a newline", in: "v1\nx", wantErr: true},
		{name: "a slash", in: "v1/2", wantErr: true},
		{name: "too long", in: strings.Repeat("v", MaxVersionLen+1), wantErr: true},
		{name: "just long enough", in: strings.Repeat("v", MaxVersionLen), want: strings.Repeat("v", MaxVersionLen)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseVersion(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseVersion error %v, want error %v", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), tc.in) && tc.in != "" {
				t.Errorf("error %q quotes the input", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
