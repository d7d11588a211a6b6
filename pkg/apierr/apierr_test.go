package apierr

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestHelpers(t *testing.T) {
	type answer struct {
		Code       int
		Reason     metav1.StatusReason
		Message    string
		RetryAfter string
	}
	for _, tc := range []struct {
		name  string
		write func(http.ResponseWriter)
		want  answer
	}{
		{"Unauthorized", Unauthorized, answer{401, metav1.StatusReasonUnauthorized, "Unauthorized", ""}},
		{"Unauthorizedf", func(w http.ResponseWriter) { Unauthorizedf(w, "wrong username or password") },
			answer{401, metav1.StatusReasonUnauthorized, "wrong username or password", ""}},
		{"Forbidden", func(w http.ResponseWriter) { Forbidden(w, "no %s", "way") },
			answer{403, metav1.StatusReasonForbidden, "no way", ""}},
		{"NotFound", func(w http.ResponseWriter) { NotFound(w, "cluster %q not found", "c-1") },
			answer{404, metav1.StatusReasonNotFound, `cluster "c-1" not found`, ""}},
		{"BadRequest", func(w http.ResponseWriter) { BadRequest(w, "bad") },
			answer{400, metav1.StatusReasonBadRequest, "bad", ""}},
		{"MethodNotAllowed", func(w http.ResponseWriter) { MethodNotAllowed(w, "PATCH is not allowed on %s", "/v3") },
			answer{405, metav1.StatusReasonMethodNotAllowed, "PATCH is not allowed on /v3", ""}},
		{"Invalid", func(w http.ResponseWriter) { Invalid(w, "ttl must be positive") },
			answer{422, metav1.StatusReasonInvalid, "ttl must be positive", ""}},
		{"AlreadyExists", func(w http.ResponseWriter) { AlreadyExists(w, "driver %q already exists", "d") },
			answer{409, metav1.StatusReasonAlreadyExists, `driver "d" already exists`, ""}},
		{"Conflict", func(w http.ResponseWriter) { Conflict(w, "user is disabled") },
			answer{409, metav1.StatusReasonConflict, "user is disabled", ""}},
		{"TooLarge", func(w http.ResponseWriter) { TooLarge(w, "request body larger than 1 MiB") },
			answer{413, metav1.StatusReasonRequestEntityTooLarge, "request body larger than 1 MiB", ""}},
		{"TooManyRequests", func(w http.ResponseWriter) { TooManyRequests(w, 1500*time.Millisecond, "slow down") },
			answer{429, metav1.StatusReasonTooManyRequests, "slow down", "2"}},
		{"TooManyRequests without a wait", func(w http.ResponseWriter) { TooManyRequests(w, 0, "slow down") },
			answer{429, metav1.StatusReasonTooManyRequests, "slow down", ""}},
		{"Internal", Internal,
			answer{500, metav1.StatusReasonInternalError, "internal error; the server log has the details", ""}},
		{"BadGateway", func(w http.ResponseWriter) { BadGateway(w, "error reaching cluster %q", "c-1") },
			answer{502, metav1.StatusReasonServiceUnavailable, `error reaching cluster "c-1"`, ""}},
		{"Unavailable", func(w http.ResponseWriter) { Unavailable(w, "tunnel down") },
			answer{503, metav1.StatusReasonServiceUnavailable, "tunnel down", ""}},
		{"Code 401", func(w http.ResponseWriter) { Code(w, 401, "upgrade failed") },
			answer{401, metav1.StatusReasonUnauthorized, "upgrade failed", ""}},
		{"Code 418", func(w http.ResponseWriter) { Code(w, 418, "teapot") },
			answer{418, metav1.StatusReasonUnknown, "teapot", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.write(rec)
			var st metav1.Status
			if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			got := answer{Code: rec.Code, Reason: st.Reason, Message: st.Message, RetryAfter: rec.Header().Get("Retry-After")}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if st.Kind != "Status" || st.APIVersion != "v1" || st.Status != metav1.StatusFailure || st.Code != int32(rec.Code) {
				t.Errorf("not a failure Status: %+v", st)
			}
			for h, want := range map[string]string{"Content-Type": "application/json", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
				if got := rec.Header().Get(h); got != want {
					t.Errorf("%s: %q, want %q", h, got, want)
				}
			}
		})
	}
}

// What client-go makes of the 409s and the 502: a caller's
// IsAlreadyExists/IsConflict/IsServiceUnavailable see what the helper meant.
func TestClientGoReading(t *testing.T) {
	read := func(write func(http.ResponseWriter)) error {
		rec := httptest.NewRecorder()
		write(rec)
		var st metav1.Status
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
			t.Fatal(err)
		}
		return &apierrors.StatusError{ErrStatus: st}
	}
	for _, tc := range []struct {
		name  string
		write func(http.ResponseWriter)
		is    func(error) bool
		isNot func(error) bool
	}{
		{"AlreadyExists", func(w http.ResponseWriter) { AlreadyExists(w, "x") }, apierrors.IsAlreadyExists, apierrors.IsConflict},
		{"Conflict", func(w http.ResponseWriter) { Conflict(w, "x") }, apierrors.IsConflict, apierrors.IsAlreadyExists},
		{"BadGateway", func(w http.ResponseWriter) { BadGateway(w, "x") }, apierrors.IsServiceUnavailable, apierrors.IsInternalError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := read(tc.write)
			if !tc.is(err) || tc.isNot(err) {
				t.Errorf("client-go reads %v wrongly", err)
			}
		})
	}
}
