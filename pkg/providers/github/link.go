package github

import (
	"errors"
	"fmt"
	"strings"
)

// nextLink returns the target of the rel="next" link in RFC 8288 Link header
// values, or "" when there is none. A header it cannot parse is an error:
// guessing could skip pages.
func nextLink(values []string) (string, error) {
	for _, v := range values {
		links, err := parseLinks(v)
		if err != nil {
			return "", err
		}
		for _, l := range links {
			for _, rel := range strings.Fields(l.rel) {
				if strings.EqualFold(rel, "next") {
					return l.target, nil
				}
			}
		}
	}
	return "", nil
}

type link struct {
	target string
	rel    string
}

// parseLinks parses one Link header value: comma-separated
// `<target>; param=value; param="quoted value"` entries.
func parseLinks(s string) ([]link, error) {
	var out []link
	i := 0
	skipSpace := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	for {
		skipSpace()
		if i == len(s) {
			return out, nil
		}
		if s[i] != '<' {
			return nil, fmt.Errorf("link header: want '<' at %d", i)
		}
		end := strings.IndexByte(s[i+1:], '>')
		if end < 0 {
			return nil, errors.New("link header: unterminated <target>")
		}
		l := link{target: s[i+1 : i+1+end]}
		i += end + 2
		for {
			skipSpace()
			if i == len(s) || s[i] == ',' {
				break
			}
			if s[i] != ';' {
				return nil, fmt.Errorf("link header: want ';' or ',' at %d", i)
			}
			i++
			skipSpace()
			start := i
			for i < len(s) && s[i] != '=' && s[i] != ';' && s[i] != ',' && s[i] != ' ' && s[i] != '\t' {
				i++
			}
			name := strings.ToLower(s[start:i])
			if name == "" {
				return nil, fmt.Errorf("link header: empty parameter name at %d", i)
			}
			skipSpace()
			var value string
			if i < len(s) && s[i] == '=' {
				i++
				skipSpace()
				var err error
				if value, err = paramValue(s, &i); err != nil {
					return nil, err
				}
			}
			if name == "rel" && l.rel == "" {
				l.rel = value
			}
		}
		out = append(out, l)
		if i < len(s) {
			i++ // the comma
		}
	}
}

// paramValue reads a token or a quoted-string (with \-escapes) at *i.
func paramValue(s string, i *int) (string, error) {
	if *i < len(s) && s[*i] == '"' {
		var b strings.Builder
		for j := *i + 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				if j+1 == len(s) {
					return "", errors.New("link header: unterminated quoted string")
				}
				j++
				b.WriteByte(s[j])
			case '"':
				*i = j + 1
				return b.String(), nil
			default:
				b.WriteByte(s[j])
			}
		}
		return "", errors.New("link header: unterminated quoted string")
	}
	start := *i
	for *i < len(s) && s[*i] != ';' && s[*i] != ',' && s[*i] != ' ' && s[*i] != '\t' {
		*i++
	}
	return s[start:*i], nil
}
