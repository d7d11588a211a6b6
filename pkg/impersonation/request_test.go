package impersonation

import (
	"net/http"
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
		{name: "uid", in: http.Header{"Impersonate-User": {"jane"}, "Impersonate-Uid": {"0"}}, wantCode: 400, wantMsg: "Impersonate-Uid"},
		{name: "uid alone", in: http.Header{"Impersonate-Uid": {"0"}}, wantCode: 400, wantMsg: "Impersonate-Uid"},
		{
			name:     "extra",
			in:       http.Header{"Impersonate-User": {"jane"}, "Impersonate-Extra-Scopes": {"all"}},
			wantCode: 400, wantMsg: "Impersonate-Extra-*",
		},
		{
			name:     "Drover's own extra forged",
			in:       http.Header{"Impersonate-Extra-Drover.dev%2foriginal-User": {"admin"}},
			wantCode: 400, wantMsg: "Impersonate-Extra-*",
		},
		{name: "non-canonical key", in: http.Header{"impersonate-user": {"root"}}, wantCode: 400, wantMsg: "canonical"},
		{name: "non-canonical group key", in: http.Header{"Impersonate-User": {"jane"}, "IMPERSONATE-GROUP": {"x"}}, wantCode: 400, wantMsg: "canonical"},
		{name: "underscore for a dash", in: http.Header{"Impersonate_User": {"root"}}, wantCode: 400, wantMsg: "canonical"},
		{name: "unknown impersonation header", in: http.Header{"Impersonate-Everything": {"1"}}, wantCode: 400, wantMsg: "not supported"},
		{name: "X-Remote-User", in: http.Header{"X-Remote-User": {"root"}}, wantCode: 400, wantMsg: "X-Remote-User"},
		{name: "x_remote_group", in: http.Header{"X_remote_group": {"g"}}, wantCode: 400, wantMsg: "not accepted"},
		{
			name:     "ServiceAccount",
			in:       http.Header{"Impersonate-User": {"system:serviceaccount:kube-system:default"}},
			wantCode: 403, wantMsg: "ServiceAccount",
		},
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
}
