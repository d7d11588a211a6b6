package token

import (
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBearer(t *testing.T) {
	type result struct {
		Raw string
		OK  bool
	}
	tests := []struct {
		name   string
		header []string
		want   result
	}{
		{"bearer", []string{"Bearer t-abc:secret"}, result{"t-abc:secret", true}},
		{"scheme in any case", []string{"bEaReR t-abc:secret"}, result{"t-abc:secret", true}},
		{"trimmed", []string{"Bearer   t-abc:secret \t"}, result{"t-abc:secret", true}},
		{"missing", nil, result{}},
		{"empty header", []string{""}, result{}},
		{"basic", []string{"Basic Ym9iOng="}, result{}},
		{"no space", []string{"Bearert-abc:secret"}, result{}},
		{"empty bearer", []string{"Bearer "}, result{}},
		{"only spaces", []string{"Bearer    "}, result{}},
		{"two headers", []string{"Bearer a", "Bearer a"}, result{}},
		{"two headers, one empty", []string{"Bearer a", ""}, result{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.header != nil {
				r.Header["Authorization"] = tc.header
			}
			raw, ok := Bearer(r)
			if diff := cmp.Diff(tc.want, result{raw, ok}); diff != "" {
				t.Errorf("Bearer (-want +got):\n%s", diff)
			}
		})
	}
}
