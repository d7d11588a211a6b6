package impersonation

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name     string
		in       http.Header
		want     *Request
		wantCode int    // 0: no error
		wantMsg  string // substring of the error message
	}{
		{name: "no identity headers", in: http.Header{"Accept": {"application/json"}}},
		{name: "user only", in: http.Header{"Impersonate-User": {"jane"}}, want: &Request{User: "jane"}},
		{
			name: "user and groups, duplicates dropped",
			in:   http.Header{"Impersonate-User": {"jane"}, "Impersonate-Group": {"devs", "ops", "devs"}},
			want: &Request{User: "jane", Groups: []string{"devs", "ops"}},
		},
		{
			name: "Connection names another header",
			in:   http.Header{"Impersonate-User": {"jane"}, "Connection": {"keep-alive, X-Other"}, "X-Other": {"1"}},
			want: &Request{User: "jane"},
		},
		{
			name: "Connection names Impersonate-User but none sent",
			in:   http.Header{"Connection": {"Impersonate-User"}},
		},
		{
			name:     "Connection names Impersonate-User",
			in:       http.Header{"Impersonate-User": {"jane"}, "Connection": {"Impersonate-User"}},
			wantCode: 400, wantMsg: "named in Connection",
		},
		{
			name:     "connection in lower case names Impersonate-Group in upper case",
			in:       http.Header{"Impersonate-User": {"jane"}, "Impersonate-Group": {"g"}, "connection": {"x, IMPERSONATE-GROUP"}},
			wantCode: 400, wantMsg: "Impersonate-Group is named in Connection",
		},
		{name: "several users", in: http.Header{"Impersonate-User": {"jane", "root"}}, wantCode: 400, wantMsg: "sent once"},
		{name: "empty user", in: http.Header{"Impersonate-User": {""}}, wantCode: 400, wantMsg: "empty"},
		{name: "empty group", in: http.Header{"Impersonate-User": {"jane"}, "Impersonate-Group": {"a", ""}}, wantCode: 400, wantMsg: "empty"},
		{name: "groups without a user", in: http.Header{"Impersonate-Group": {"system:masters"}}, wantCode: 400, wantMsg: "requires Impersonate-User"},
		{name: "uid", in: http.Header{"Impersonate-User": {"jane"}, "Impersonate-Uid": {"0"}}, want: &Request{User: "jane", UID: "0"}},
		{name: "uid alone", in: http.Header{"Impersonate-Uid": {"0"}}, wantCode: 400, wantMsg: "Impersonate-Uid requires Impersonate-User"},
		{name: "uid twice", in: http.Header{"Impersonate-User": {"jane"}, "Impersonate-Uid": {"0", "1"}}, wantCode: 400, wantMsg: "Impersonate-Uid must be sent once, got 2"},
		{name: "empty uid", in: http.Header{"Impersonate-User": {"jane"}, "Impersonate-Uid": {""}}, wantCode: 400, wantMsg: "Impersonate-Uid is empty"},
		{name: "uid with a trailing space", in: http.Header{"Impersonate-User": {"jane"}, "Impersonate-Uid": {"0 "}}, wantCode: 400, wantMsg: "Impersonate-Uid has leading or trailing whitespace"},
		{name: "uid longer than MaxNameLen", in: http.Header{"Impersonate-User": {"jane"}, "Impersonate-Uid": {strings.Repeat("1", MaxNameLen+1)}}, wantCode: 400, wantMsg: "Impersonate-Uid is 513 bytes long"},
		{name: "non-canonical uid key", in: http.Header{"Impersonate-User": {"jane"}, "IMPERSONATE-UID": {"0"}}, wantCode: 400, wantMsg: "send Impersonate-Uid"},
		{name: "Connection names Impersonate-Uid", in: http.Header{"Impersonate-User": {"jane"}, "Impersonate-Uid": {"0"}, "Connection": {"impersonate-uid"}}, wantCode: 400, wantMsg: "Impersonate-Uid is named in Connection"},
		{
			name: "extra",
			in:   http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Scopes": {"all", "view", "all"}},
			want: &Request{User: "jane", Extra: map[string][]string{"scopes": {"all", "view"}}},
		},
		{
			name: "extra keys are lower-cased, then percent-unescaped, as the apiserver reads them",
			in: http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Example.com%2fteam": {"a"},
				"Impersonate-Extra-%41cme%2frole": {"r"}, "Impersonate-Extra-Bad%zzescape": {"b"}},
			want: &Request{User: "jane", Extra: map[string][]string{"example.com/team": {"a"}, "Acme/role": {"r"}, "bad%zzescape": {"b"}}},
		},
		{
			name: "header names decoding to one key are one key",
			in:   http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Scopes": {"a"}, "Impersonate-Extra-%73copes": {"b", "a"}},
			want: &Request{User: "jane", Extra: map[string][]string{"scopes": {"b", "a"}}},
		},
		{
			name:     "extra without a user",
			in:       http.Header{"Impersonate-Extra-Scopes": {"all"}},
			wantCode: 400, wantMsg: "Impersonate-Extra-* requires Impersonate-User",
		},
		{name: "extra with no key", in: http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-": {"x"}}, wantCode: 400, wantMsg: "names no extra key"},
		{name: "non-canonical extra", in: http.Header{"Impersonate-User": {"jane"}, "impersonate-extra-scopes": {"x"}}, wantCode: 400, wantMsg: "not in canonical form"},
		{name: "extra with underscores", in: http.Header{"Impersonate-User": {"jane"}, "Impersonate_Extra_Scopes": {"x"}}, wantCode: 400, wantMsg: "not in canonical form"},
		{
			name:     "Connection names an extra",
			in:       http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Scopes": {"x"}, "Connection": {"Impersonate-Extra-Scopes"}},
			wantCode: 400, wantMsg: "Impersonate-Extra-Scopes is named in Connection",
		},
		{name: "empty extra value", in: http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Scopes": {"a", ""}}, wantCode: 400, wantMsg: `extra "scopes" value 2 is empty`},
		{
			name:     "extra value with a trailing space",
			in:       http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Scopes": {"all "}},
			wantCode: 400, wantMsg: `extra "scopes" value 1 has leading or trailing whitespace`,
		},
		{
			name:     "extra key decoding to a control character",
			in:       http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-A%0ab": {"x"}},
			wantCode: 400, wantMsg: "the extra key of header Impersonate-Extra-A%0ab has a character not allowed",
		},
		{
			name:     "extra key longer than MaxNameLen",
			in:       http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-K" + strings.Repeat("k", MaxNameLen): {"x"}},
			wantCode: 400, wantMsg: "is 513 bytes long",
		},
		{
			name:     "extra value longer than MaxNameLen",
			in:       http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Scopes": {strings.Repeat("v", MaxNameLen+1)}},
			wantCode: 400, wantMsg: `extra "scopes" value 1 is 513 bytes long`,
		},
		{name: "too many extra keys", in: manyExtras(MaxExtraKeys + 1), wantCode: 400, wantMsg: "at most 16 Impersonate-Extra-* headers"},
		{name: "MaxExtraKeys extra keys", in: manyExtras(MaxExtraKeys), want: &Request{User: "jane", Extra: manyExtraWant(MaxExtraKeys)}},
		{
			name:     "too many values of one extra",
			in:       http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Scopes": strings.Split(strings.Repeat("v,", MaxExtraValues)+"v", ",")},
			wantCode: 400, wantMsg: `at most 16 values of extra "scopes"`,
		},
		{
			name:     "too many values of one key over two header names",
			in:       http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Scopes": distinct("v", 9), "Impersonate-Extra-%73copes": distinct("w", 9)},
			wantCode: 400, wantMsg: `at most 16 values of extra "scopes" are accepted, got 18`,
		},
		{
			name: "MaxExtraValues values of one key over two header names",
			in:   http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Scopes": distinct("v", 8), "Impersonate-Extra-%73copes": distinct("w", 8)},
			want: &Request{User: "jane", Extra: map[string][]string{"scopes": append(distinct("w", 8), distinct("v", 8)...)}},
		},
		{
			name:     "Drover's own extra forged",
			in:       http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Drover.dev%2foriginal-User": {"admin"}},
			wantCode: 403, wantMsg: `Drover sets its own extras: extra "drover.dev/original-user" may not be asked for`,
		},
		{
			name:     "Drover's own extra forged without a user",
			in:       http.Header{"Impersonate-Extra-Drover.dev%2ftoken-Id": {"t-1"}},
			wantCode: 403, wantMsg: "Drover sets its own extras",
		},
		{
			name:     "Drover's extra space with an escaped capital",
			in:       http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-%44rover.dev%2fuser-Id": {"u-1"}},
			wantCode: 403, wantMsg: `extra "Drover.dev/user-id"`,
		},
		{
			name:     "Drover's extra space, any key",
			in:       http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Drover.dev%2fanything": {"x"}},
			wantCode: 403, wantMsg: "Drover sets its own extras",
		},
		{
			name: "a key merely starting like Drover's",
			in:   http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Drover.devices": {"x"}},
			want: &Request{User: "jane", Extra: map[string][]string{"drover.devices": {"x"}}},
		},
		{
			name: "user, groups, uid and extras",
			in: http.Header{"Impersonate-User": {"jane"}, "Impersonate-Group": {"devs"}, "Impersonate-Uid": {"1000"},
				"Impersonate-Extra-Scopes": {"view"}},
			want: &Request{User: "jane", Groups: []string{"devs"}, UID: "1000", Extra: map[string][]string{"scopes": {"view"}}},
		},
		{name: "non-canonical key", in: http.Header{"impersonate-user": {"root"}}, wantCode: 400, wantMsg: "canonical"},
		{name: "non-canonical group key", in: http.Header{"Impersonate-User": {"jane"}, "IMPERSONATE-GROUP": {"x"}}, wantCode: 400, wantMsg: "canonical"},
		{name: "underscore for a dash", in: http.Header{"Impersonate_User": {"root"}}, wantCode: 400, wantMsg: "canonical"},
		{name: "unknown impersonation header", in: http.Header{"Impersonate-Everything": {"1"}}, wantCode: 400, wantMsg: "not supported"},
		{name: "X-Remote-User", in: http.Header{"X-Remote-User": {"root"}}, wantCode: 400, wantMsg: "X-Remote-User"},
		{name: "x_remote_group", in: http.Header{"X_remote_group": {"g"}}, wantCode: 400, wantMsg: "not accepted"},
		{
			// Parsed as any ServiceAccount; package accounts refuses kube-system's.
			name: "ServiceAccount",
			in:   http.Header{"Impersonate-User": {"system:serviceaccount:kube-system:default"}},
			want: &Request{User: "system:serviceaccount:kube-system:default"},
		},
		{
			name: "ServiceAccount with a dotted name and groups",
			in:   http.Header{"Impersonate-User": {"system:serviceaccount:team-a:ci.bot"}, "Impersonate-Group": {"devs"}},
			want: &Request{User: "system:serviceaccount:team-a:ci.bot", Groups: []string{"devs"}},
		},
		{name: "ServiceAccount without a name", in: http.Header{"Impersonate-User": {"system:serviceaccount:team-a"}}, wantCode: 400, wantMsg: "is not a ServiceAccount name"},
		{name: "ServiceAccount with an empty name", in: http.Header{"Impersonate-User": {"system:serviceaccount:team-a:"}}, wantCode: 400, wantMsg: "is not a ServiceAccount name"},
		{name: "ServiceAccount with a dotted namespace", in: http.Header{"Impersonate-User": {"system:serviceaccount:team.a:bot"}}, wantCode: 400, wantMsg: "DNS-1123 label"},
		{name: "ServiceAccount in upper case", in: http.Header{"Impersonate-User": {"system:serviceaccount:Team:bot"}}, wantCode: 400, wantMsg: "is not a ServiceAccount name"},
		{name: "ServiceAccount with a colon in the name", in: http.Header{"Impersonate-User": {"system:serviceaccount:team:bot:x"}}, wantCode: 400, wantMsg: "is not a ServiceAccount name"},
		{name: "user not UTF-8", in: http.Header{"Impersonate-User": {"j\xffne"}}, wantCode: 400, wantMsg: "Impersonate-User is not valid UTF-8"},
		{name: "group not UTF-8", in: http.Header{"Impersonate-User": {"jane"}, "Impersonate-Group": {"d\xc3"}}, wantCode: 400, wantMsg: "Impersonate-Group value 1 is not valid UTF-8"},
		{
			name:     "too many groups",
			in:       http.Header{"Impersonate-User": {"jane"}, "Impersonate-Group": strings.Split(strings.Repeat("g,", MaxGroups)+"g", ",")},
			wantCode: 400, wantMsg: "at most",
		},
		{
			name: "UTF-8 and inner spaces are names like any other",
			in:   http.Header{"Impersonate-User": {"José Díaz"}, "Impersonate-Group": {"corp:domain admins"}},
			want: &Request{User: "José Díaz", Groups: []string{"corp:domain admins"}},
		},
		// HTTP/1.1 trims header values (HTTP/2 does not, so such a value can
		// reach Drover): the name approved would not be the name forwarded.
		{name: "user with a trailing space", in: http.Header{"Impersonate-User": {"jane "}}, wantCode: 400, wantMsg: "Impersonate-User has leading or trailing whitespace"},
		{name: "user with a leading tab", in: http.Header{"Impersonate-User": {"\tjane"}}, wantCode: 400, wantMsg: "whitespace"},
		{
			name:     "group with a trailing space",
			in:       http.Header{"Impersonate-User": {"jane"}, "Impersonate-Group": {"devs", "corp:admins "}},
			wantCode: 400, wantMsg: "Impersonate-Group value 2 has leading or trailing whitespace",
		},
		{name: "user of spaces", in: http.Header{"Impersonate-User": {"   "}}, wantCode: 400, wantMsg: "whitespace"},
		{name: "user with a NUL", in: http.Header{"Impersonate-User": {"ja\x00ne"}}, wantCode: 400, wantMsg: "not allowed in an HTTP header value"},
		{
			name:     "group with a newline",
			in:       http.Header{"Impersonate-User": {"jane"}, "Impersonate-Group": {"devs\r\nImpersonate-Group: system:masters"}},
			wantCode: 400, wantMsg: "not allowed in an HTTP header value",
		},
		{
			name: "user of MaxNameLen bytes",
			in:   http.Header{"Impersonate-User": {strings.Repeat("u", MaxNameLen)}},
			want: &Request{User: strings.Repeat("u", MaxNameLen)},
		},
		{
			name:     "user longer than MaxNameLen",
			in:       http.Header{"Impersonate-User": {strings.Repeat("u", MaxNameLen+1)}},
			wantCode: 400, wantMsg: "Impersonate-User is 513 bytes long; at most 512 are accepted",
		},
		{
			name:     "group longer than MaxNameLen",
			in:       http.Header{"Impersonate-User": {"jane"}, "Impersonate-Group": {strings.Repeat("g", 1<<20)}},
			wantCode: 400, wantMsg: "Impersonate-Group value 1 is 1048576 bytes long; at most 512",
		},
		{
			name:     "system:anonymous",
			in:       http.Header{"Impersonate-User": {"system:anonymous"}},
			wantCode: 403, wantMsg: "impersonating user system:anonymous is not supported through Drover",
		},
		{
			name:     "system:unauthenticated",
			in:       http.Header{"Impersonate-User": {"jane"}, "Impersonate-Group": {"devs", "system:unauthenticated"}},
			wantCode: 403, wantMsg: "impersonating group system:unauthenticated is not supported through Drover",
		},
		{
			name: "system:authenticated may be asked for: every identity carries it",
			in:   http.Header{"Impersonate-User": {"jane"}, "Impersonate-Group": {"system:authenticated"}},
			want: &Request{User: "jane", Groups: []string{"system:authenticated"}},
		},
		{
			name:     "a long hostile name is shortened in the message",
			in:       http.Header{"X-Remote-" + strings.Repeat("a", 500): {"1"}},
			wantCode: 400, wantMsg: "aaa…",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRequest(tc.in)
			if tc.wantCode == 0 {
				if err != nil {
					t.Fatalf("ParseRequest: %v", err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("ParseRequest (-want +got):\n%s", diff)
				}
				return
			}
			re, ok := err.(*RequestError)
			if !ok {
				t.Fatalf("ParseRequest = %+v, %v; want a *RequestError", got, err)
			}
			if got != nil {
				t.Errorf("a refused request returned %+v", got)
			}
			if re.Code != tc.wantCode || !strings.Contains(re.Message, tc.wantMsg) {
				t.Errorf("error %d %q, want %d containing %q", re.Code, re.Message, tc.wantCode, tc.wantMsg)
			}
			if len(re.Message) > 200 {
				t.Errorf("message of %d bytes", len(re.Message))
			}
		})
	}
}

// manyExtras asks for n extra keys k0, k1, ... with one value each.
func manyExtras(n int) http.Header {
	h := http.Header{"Impersonate-User": {"jane"}}
	for i := range n {
		h["Impersonate-Extra-K"+strconv.Itoa(i)] = []string{"v"}
	}
	return h
}

// distinct returns n distinct values starting with p.
func distinct(p string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, p+strconv.Itoa(i))
	}
	return out
}

func manyExtraWant(n int) map[string][]string {
	m := map[string][]string{}
	for i := range n {
		m["k"+strconv.Itoa(i)] = []string{"v"}
	}
	return m
}

func TestSplitServiceAccount(t *testing.T) {
	tests := []struct {
		user     string
		ns, name string
		ok       bool
	}{
		{"system:serviceaccount:default:builder", "default", "builder", true},
		{"system:serviceaccount:team-a:ci.bot-1", "team-a", "ci.bot-1", true},
		{"system:serviceaccount:team-a:" + strings.Repeat("n", 253), "team-a", strings.Repeat("n", 253), true},
		{"system:serviceaccount:team-a:" + strings.Repeat("n", 254), "", "", false},
		{"system:serviceaccount:" + strings.Repeat("n", 64) + ":x", "", "", false},
		{"system:serviceaccount:team-a", "", "", false},
		{"system:serviceaccount::bot", "", "", false},
		{"system:serviceaccount:team-a:", "", "", false},
		{"system:serviceaccount:team_a:bot", "", "", false},
		{"system:serviceaccount:team-a:Bot", "", "", false},
		{"system:serviceaccount:a:b:c", "", "", false},
		{"system:serviceaccounts:team-a:bot", "", "", false},
		{"jane", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.user, func(t *testing.T) {
			ns, name, ok := SplitServiceAccount(tc.user)
			if ns != tc.ns || name != tc.name || ok != tc.ok {
				t.Errorf("got %q %q %v, want %q %q %v", ns, name, ok, tc.ns, tc.name, tc.ok)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	id := Identity{User: "jane", Groups: []string{"devs"}, Extra: map[string][]string{"drover.dev/original-user": {"ada"}}}
	good := http.Header{}
	if err := Set(good, id); err != nil {
		t.Fatal(err)
	}
	good.Set("Authorization", "Bearer sa")
	good.Set("Accept", "application/json")

	tests := []struct {
		name    string
		change  func(h http.Header)
		wantErr bool
	}{
		{name: "as Set wrote it", change: func(http.Header) {}},
		{name: "another user", change: func(h http.Header) { h.Set("Impersonate-User", "root") }, wantErr: true},
		{name: "a second user", change: func(h http.Header) { h.Add("Impersonate-User", "root") }, wantErr: true},
		{name: "a group added", change: func(h http.Header) { h.Add("Impersonate-Group", "system:masters") }, wantErr: true},
		{name: "groups missing", change: func(h http.Header) { delete(h, "Impersonate-Group") }, wantErr: true},
		{name: "extra missing", change: func(h http.Header) { delete(h, "Impersonate-Extra-drover.dev%2Foriginal-user") }, wantErr: true},
		{name: "non-canonical duplicate", change: func(h http.Header) { h["impersonate-user"] = []string{"root"} }, wantErr: true},
		{name: "uid", change: func(h http.Header) { h.Set("Impersonate-Uid", "0") }, wantErr: true},
		{name: "an extra added", change: func(h http.Header) { h["Impersonate-Extra-Scopes"] = []string{"all"} }, wantErr: true},
		{name: "x-remote", change: func(h http.Header) { h["x-remote-user"] = []string{"root"} }, wantErr: true},
		{name: "underscore", change: func(h http.Header) { h["Impersonate_User"] = []string{"root"} }, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := good.Clone()
			tc.change(h)
			if err := Verify(h, id); (err != nil) != tc.wantErr {
				t.Errorf("Verify = %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
	if err := Verify(good.Clone(), Identity{}); err == nil {
		t.Error("Verify accepted an empty identity")
	}

	// A ServiceAccount with a uid: no groups at all, the uid as set.
	sa := Identity{User: "system:serviceaccount:team-a:bot", UID: "u-1"}
	saGood := http.Header{}
	if err := Set(saGood, sa); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(h http.Header){
		"as Set wrote it": func(http.Header) {},
		"a group added":   func(h http.Header) { h.Set("Impersonate-Group", "system:masters") },
		"uid missing":     func(h http.Header) { delete(h, "Impersonate-Uid") },
		"another uid":     func(h http.Header) { h.Set("Impersonate-Uid", "0") },
	} {
		h := saGood.Clone()
		change(h)
		if err := Verify(h, sa); (err != nil) != (name != "as Set wrote it") {
			t.Errorf("ServiceAccount identity, %s: Verify = %v", name, err)
		}
	}
}
