package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// decodeTarget has a field of each shape the request types use.
type decodeTarget struct {
	Name  string   `json:"name"`
	Count int      `json:"count"`
	On    *bool    `json:"on"`
	Tags  []string `json:"tags"`
	Inner struct {
		Port int `json:"port"`
	} `json:"inner"`
	Items []struct {
		ID string `json:"id"`
	} `json:"items"`
	Labels map[string]string `json:"labels"`
	Config json.RawMessage   `json:"config"`
}

// decodeBody runs decode on body into v and returns whether it accepted
// and the Status it answered otherwise.
func decodeBody(t *testing.T, body string, v any) (bool, int, metav1.Status) {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/v3/x", strings.NewReader(body))
	if decode(w, r, v) {
		return true, 0, metav1.Status{}
	}
	var st metav1.Status
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatalf("answer %q is not a Status: %v", w.Body.String(), err)
	}
	return false, w.Code, st
}

func TestDecode(t *testing.T) {
	known := `supported values: "name", "count", "on", "tags", "inner", "items", "labels", "config"`
	tests := []struct {
		name        string
		body        string
		wantOK      bool
		wantCode    int
		wantReason  metav1.StatusReason
		wantMessage string
		wantCauses  []metav1.StatusCause
	}{
		{name: "valid", body: `{"name":"a","count":2,"inner":{"port":1},"items":[{"id":"x"}],"config":{"any":"thing"}}`, wantOK: true},
		{name: "empty body", body: ``, wantOK: true},
		{name: "blank body", body: " \n\t", wantOK: true},
		{name: "null", body: `null`, wantOK: true},
		{
			name: "unknown field", body: `{"nmae":"a"}`, wantCode: 400, wantReason: metav1.StatusReasonBadRequest,
			wantMessage: `request body: unknown field "nmae"`,
			wantCauses:  []metav1.StatusCause{{Type: metav1.CauseTypeFieldValueNotSupported, Field: "nmae", Message: `Unsupported value: "nmae": ` + known}},
		},
		{
			name: "unknown nested field", body: `{"inner":{"prot":1}}`, wantCode: 400, wantReason: metav1.StatusReasonBadRequest,
			wantMessage: `request body: unknown field "inner.prot"`,
			wantCauses:  []metav1.StatusCause{{Type: metav1.CauseTypeFieldValueNotSupported, Field: "inner.prot", Message: `Unsupported value: "prot": supported values: "port"`}},
		},
		{
			name: "unknown field in an array", body: `{"items":[{"id":"a"},{"id":"b","x":1}]}`, wantCode: 400, wantReason: metav1.StatusReasonBadRequest,
			wantMessage: `request body: unknown field "items[1].x"`,
			wantCauses:  []metav1.StatusCause{{Type: metav1.CauseTypeFieldValueNotSupported, Field: "items[1].x", Message: `Unsupported value: "x": supported values: "id"`}},
		},
		{
			name: "case mismatch", body: `{"Name":"a"}`, wantCode: 400, wantReason: metav1.StatusReasonBadRequest,
			wantMessage: `request body: unknown field "Name" (field names are case-sensitive: "name")`,
			wantCauses:  []metav1.StatusCause{{Type: metav1.CauseTypeFieldValueNotSupported, Field: "Name", Message: `Unsupported value: "Name": ` + known}},
		},
		{
			name: "duplicate key", body: `{"name":"a","count":1,"name":"b"}`, wantCode: 400, wantReason: metav1.StatusReasonBadRequest,
			wantMessage: `request body: field "name" appears more than once`,
			wantCauses:  []metav1.StatusCause{{Type: metav1.CauseTypeFieldValueDuplicate, Field: "name", Message: "Duplicate value"}},
		},
		{
			name: "duplicate map key", body: `{"labels":{"a":"1","a":"2"}}`, wantCode: 400, wantReason: metav1.StatusReasonBadRequest,
			wantMessage: `request body: field "labels.a" appears more than once`,
			wantCauses:  []metav1.StatusCause{{Type: metav1.CauseTypeFieldValueDuplicate, Field: "labels.a", Message: "Duplicate value"}},
		},
		{
			name: "unknown and duplicate together", body: `{"x":1,"name":"a","name":"a"}`, wantCode: 400, wantReason: metav1.StatusReasonBadRequest,
			wantMessage: `request body: unknown field "x"; field "name" appears more than once`,
			wantCauses: []metav1.StatusCause{
				{Type: metav1.CauseTypeFieldValueNotSupported, Field: "x", Message: `Unsupported value: "x": ` + known},
				{Type: metav1.CauseTypeFieldValueDuplicate, Field: "name", Message: "Duplicate value"},
			},
		},
		{
			name: "trailing value", body: `{"name":"a"} {"name":"b"}`, wantCode: 400, wantReason: metav1.StatusReasonBadRequest,
			wantMessage: "request body holds more than one JSON value (more at byte 13)",
		},
		{
			name: "trailing garbage", body: "{\"name\":\"a\"}\n]", wantCode: 400, wantReason: metav1.StatusReasonBadRequest,
			wantMessage: "request body holds more than one JSON value (more at byte 13)",
		},
		{
			name: "syntax error", body: `{"name" "a"}`, wantCode: 400, wantReason: metav1.StatusReasonBadRequest,
			wantMessage: "request body is not valid JSON (at byte 9)",
		},
		{
			name: "cut short", body: `{"name":`, wantCode: 400, wantReason: metav1.StatusReasonBadRequest,
			wantMessage: "request body is not valid JSON (it ends early)",
		},
		{
			name: "wrong type", body: `{"count":"many"}`, wantCode: 422, wantReason: metav1.StatusReasonInvalid,
			wantMessage: `request body: field "count" must be an integer, not a string`,
			wantCauses:  []metav1.StatusCause{{Type: metav1.CauseTypeTypeInvalid, Field: "count", Message: "Invalid value: must be an integer, not a string"}},
		},
		{
			name: "wrong nested type", body: `{"inner":{"port":1.5}}`, wantCode: 422, wantReason: metav1.StatusReasonInvalid,
			wantMessage: `request body: field "inner.port" must be an integer, not a fractional or out-of-range number`,
			wantCauses:  []metav1.StatusCause{{Type: metav1.CauseTypeTypeInvalid, Field: "inner.port", Message: "Invalid value: must be an integer, not a fractional or out-of-range number"}},
		},
		{
			name: "wrong type in an array", body: `{"tags":["a",true]}`, wantCode: 422, wantReason: metav1.StatusReasonInvalid,
			wantMessage: `request body: field "tags" must be a string, not true or false`,
			wantCauses:  []metav1.StatusCause{{Type: metav1.CauseTypeTypeInvalid, Field: "tags", Message: "Invalid value: must be a string, not true or false"}},
		},
		{
			name: "not an object", body: `["name"]`, wantCode: 422, wantReason: metav1.StatusReasonInvalid,
			wantMessage: "request body must be an object, not an array",
		},
		{
			name: "too large", body: `{"name":"` + strings.Repeat("a", maxBody) + `"}`, wantCode: 413, wantReason: "RequestEntityTooLarge",
			wantMessage: "request body larger than 1 MiB",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v decodeTarget
			ok, code, st := decodeBody(t, tc.body, &v)
			var gotCauses []metav1.StatusCause
			if st.Details != nil {
				gotCauses = st.Details.Causes
			}
			got := []any{ok, code, st.Reason, st.Message, gotCauses}
			want := []any{tc.wantOK, tc.wantCode, tc.wantReason, tc.wantMessage, tc.wantCauses}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("decode (-want +got):\n%s", diff)
			}
			if !ok && (st.Kind != "Status" || int(st.Code) != code) {
				t.Errorf("answer %+v is not a Status with the code", st)
			}
		})
	}
}

var goTypeRE = regexp.MustCompile(`\b[a-z]\w*Request\b|\bapi\.|\bGo (value|struct)|\bstruct\b|RawMessage|\[\]string|\*bool|\b(u?int\d*|float\d+|bool)\b`)

// TestDecodeNamesNoGoType sends the refusals that used to name a Go type
// ("must be a api.createDriverClusterRequest") to the real request types.
func TestDecodeNamesNoGoType(t *testing.T) {
	targets := map[string]func() any{
		"createDriverClusterRequest": func() any { return new(createDriverClusterRequest) },
		"loginRequest":               func() any { return new(loginRequest) },
		"updateUserRequest":          func() any { return new(updateUserRequest) },
		"kubeconfigRequest":          func() any { return new(kubeconfigRequest) },
	}
	bodies := []string{`[]`, `"x"`, `1`, `true`, `{"name":[]}`, `{"disabled":"yes"}`, `{"clusters":"c-1"}`, `{"ttl":1}`, `{"config":{}}`, `{"password":5}`}
	for name, target := range targets {
		for _, body := range bodies {
			t.Run(name+" "+body, func(t *testing.T) {
				ok, _, st := decodeBody(t, body, target())
				if ok {
					return
				}
				raw, _ := json.Marshal(st)
				if m := goTypeRE.FindString(string(raw)); m != "" {
					t.Errorf("answer names a Go type (%q): %s", m, raw)
				}
			})
		}
	}
}

// FuzzDecode checks that decode never panics, refuses with a 4xx Status,
// and that what it accepts survives a round trip: encoding the decoded
// value and decoding that again gives the same value.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"name":"a","count":2,"on":true,"tags":["x"],"inner":{"port":1},"items":[{"id":"x"}],"labels":{"k":"v"},"config":{"a":[1,2]}}`,
		`{"username":"alice","password":"pw","provider":"corp"}`,
		`{"name":"a","name":"b"}`, `{"Name":"a"}`, `{"nmae":1}`, `{"count":"x"}`, `{"a":1} {}`, `[]`, `null`, ``, `{`,
		`{"items":[{"id":"a","x":{}}]}`, `{"labels":{"a":"1","a":"2"}}`, "{\"name\":\"\xff\"}", `{"count":1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, target := range []func() any{func() any { return new(decodeTarget) }, func() any { return new(loginRequest) }} {
			v := target()
			w := httptest.NewRecorder()
			if !decode(w, httptest.NewRequest(http.MethodPost, "/v3/x", bytes.NewReader(body)), v) {
				var st metav1.Status
				if w.Code < 400 || w.Code >= 500 || json.Unmarshal(w.Body.Bytes(), &st) != nil || st.Kind != "Status" {
					t.Fatalf("refusal of %q: %d %s", body, w.Code, w.Body.String())
				}
				continue
			}
			enc, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("encode %#v: %v", v, err)
			}
			again := target()
			w = httptest.NewRecorder()
			if !decode(w, httptest.NewRequest(http.MethodPost, "/v3/x", bytes.NewReader(enc)), again) {
				t.Fatalf("%q decoded, but its encoding %s is refused: %s", body, enc, w.Body.String())
			}
			enc2, _ := json.Marshal(again)
			if diff := cmp.Diff(string(enc), string(enc2)); diff != "" {
				t.Fatalf("round trip of %q (-first +second):\n%s", body, diff)
			}
		}
	})
}
