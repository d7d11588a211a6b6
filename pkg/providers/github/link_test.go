package github

import (
	"strings"
	"testing"
)

func TestNextLink(t *testing.T) {
	for _, tc := range []struct {
		name    string
		values  []string
		want    string
		wantErr bool
	}{
		{"none", nil, "", false},
		{"GitHub's shape", []string{`<https://api.github.com/user/teams?per_page=100&page=2>; rel="next", <https://api.github.com/user/teams?per_page=100&page=5>; rel="last"`},
			"https://api.github.com/user/teams?per_page=100&page=2", false},
		{"last page", []string{`<https://api.github.com/x?page=1>; rel="first", <https://api.github.com/x?page=4>; rel="prev"`}, "", false},
		{"next later", []string{`<https://a/1>; rel="prev"`, `<https://a/3>; rel=next`}, "https://a/3", false},
		{"several rels", []string{`<https://a/2>; rel="last next"`}, "https://a/2", false},
		{"case", []string{`<https://a/2>; REL="Next"`}, "https://a/2", false},
		{"other params", []string{`<https://a/2>; title="a, b; c"; rel="next"`}, "https://a/2", false},
		{"escaped quote", []string{`<https://a/2>; title="say \"hi\""; rel="next"`}, "https://a/2", false},
		{"first rel wins", []string{`<https://a/2>; rel="prev"; rel="next"`}, "", false},
		{"unterminated target", []string{`<https://a/2; rel="next"`}, "", true},
		{"no target", []string{`https://a/2; rel="next"`}, "", true},
		{"unterminated quote", []string{`<https://a/2>; rel="next`}, "", true},
		{"garbage after target", []string{`<https://a/2> x; rel="next"`}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := nextLink(tc.values)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("nextLink(%q) = %q, %v; want %q, error %v", tc.values, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// FuzzNextLink: any header value parses or fails without panicking; a next
// target is always one of the header's <...> targets; and a link written by
// the rules parses back.
func FuzzNextLink(f *testing.F) {
	for _, s := range []string{
		`<https://api.github.com/user/teams?page=2>; rel="next", <https://api.github.com/user/teams?page=5>; rel="last"`,
		`<a>; rel=next`, `<a>;rel="x\"y"`, `<>`, `<`, `;`, `,,`, `<a>; rel`, `<a>; =x`, `<a>, <b>; rel="next"`,
	} {
		f.Add(s, "https://api.github.com/x?page=2")
	}
	f.Fuzz(func(t *testing.T, header, target string) {
		got, err := nextLink([]string{header})
		if err == nil && got != "" && !strings.Contains(header, "<"+got+">") {
			t.Fatalf("nextLink(%q) = %q, not a target in the header", header, got)
		}
		if strings.ContainsAny(target, "<>") {
			return
		}
		built := `<https://api.github.com/x?page=1>; rel="prev", <` + target + `>; rel="next"`
		got, err = nextLink([]string{built})
		if err != nil || got != target {
			t.Fatalf("nextLink(%q) = %q, %v; want %q", built, got, err, target)
		}
	})
}
