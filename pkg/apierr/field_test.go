package apierr

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestFieldStatuses(t *testing.T) {
	errs := field.ErrorList{
		field.NotSupported(field.NewPath("spec", "nmae"), "nmae", []string{"name"}),
		field.TypeInvalid(field.NewPath("count"), field.OmitValueType{}, "must be an integer"),
	}
	causes := []metav1.StatusCause{
		{Type: metav1.CauseTypeFieldValueNotSupported, Field: "spec.nmae", Message: `Unsupported value: "nmae": supported values: "name"`},
		{Type: metav1.CauseTypeTypeInvalid, Field: "count", Message: "Invalid value: must be an integer"},
	}
	status := func(code int32, reason metav1.StatusReason, message string, causes []metav1.StatusCause) metav1.Status {
		st := metav1.Status{
			TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status:   metav1.StatusFailure, Code: code, Reason: reason, Message: message,
		}
		if causes != nil {
			st.Details = &metav1.StatusDetails{Causes: causes}
		}
		return st
	}
	tests := []struct {
		name  string
		write func(http.ResponseWriter)
		want  metav1.Status
	}{
		{"bad request with causes", func(w http.ResponseWriter) { BadRequestFields(w, "request body: bad", errs) },
			status(400, metav1.StatusReasonBadRequest, "request body: bad", causes)},
		{"bad request without causes", func(w http.ResponseWriter) { BadRequestFields(w, "not JSON", nil) },
			status(400, metav1.StatusReasonBadRequest, "not JSON", nil)},
		{"invalid with causes", func(w http.ResponseWriter) { InvalidFields(w, "request body: wrong", errs) },
			status(422, metav1.StatusReasonInvalid, "request body: wrong", causes)},
		{"invalid without causes", func(w http.ResponseWriter) { InvalidFields(w, "must be an object", nil) },
			status(422, metav1.StatusReasonInvalid, "must be an object", nil)},
		{"status with no error code", func(w http.ResponseWriter) { WriteStatus(w, metav1.Status{Message: "oops"}) },
			metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Code: 500, Message: "oops"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			tc.write(w)
			var got metav1.Status
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Status (-want +got):\n%s", diff)
			}
			hdr := []string{w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"), w.Header().Get("X-Content-Type-Options")}
			if diff := cmp.Diff([]string{"application/json", "no-store", "nosniff"}, hdr); diff != "" || w.Code != int(tc.want.Code) {
				t.Errorf("code %d, headers (-want +got):\n%s", w.Code, diff)
			}
		})
	}
}
