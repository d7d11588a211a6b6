package apierr

import (
	"encoding/json"
	"fmt"
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Write sends a metav1.Status with the given code, reason and message.
func Write(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	st := metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  message,
		Reason:   reason,
		Code:     int32(code),
	}
	b, err := json.Marshal(st)
	if err != nil { // cannot happen for this type
		http.Error(w, message, code)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// Unauthorized is 401: the credential is missing, malformed, unknown or expired.
func Unauthorized(w http.ResponseWriter) {
	Write(w, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized")
}

// Forbidden is 403 with a message naming what was refused.
func Forbidden(w http.ResponseWriter, format string, args ...any) {
	Write(w, http.StatusForbidden, metav1.StatusReasonForbidden, fmt.Sprintf(format, args...))
}

// NotFound is 404.
func NotFound(w http.ResponseWriter, format string, args ...any) {
	Write(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf(format, args...))
}

// BadRequest is 400.
func BadRequest(w http.ResponseWriter, format string, args ...any) {
	Write(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, fmt.Sprintf(format, args...))
}

// Invalid is 422: the request parsed, but a field is wrong.
func Invalid(w http.ResponseWriter, format string, args ...any) {
	Write(w, http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, fmt.Sprintf(format, args...))
}

// Conflict is 409.
func Conflict(w http.ResponseWriter, format string, args ...any) {
	Write(w, http.StatusConflict, metav1.StatusReasonAlreadyExists, fmt.Sprintf(format, args...))
}

// Unavailable is 503: e.g. the cluster's tunnel is down.
func Unavailable(w http.ResponseWriter, format string, args ...any) {
	Write(w, http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, fmt.Sprintf(format, args...))
}

// Internal is 500 with a generic message; the caller logs the cause.
func Internal(w http.ResponseWriter) {
	Write(w, http.StatusInternalServerError, metav1.StatusReasonInternalError,
		"internal error; the server log has the details")
}
