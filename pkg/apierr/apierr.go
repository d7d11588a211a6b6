package apierr

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Write sends a metav1.Status with the given code, reason and message.
// Prefer the helpers below, which pair each code with its reason; Write is
// for a caller that already holds a metav1.StatusReason constant.
func Write(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	WriteStatus(w, metav1.Status{Status: metav1.StatusFailure, Message: message, Reason: reason, Code: int32(code)})
}

// Unauthorized is 401: the credential is missing, malformed, unknown or expired.
func Unauthorized(w http.ResponseWriter) {
	Write(w, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized")
}

// Unauthorizedf is 401 with a message of the caller's, e.g. for a failed
// login; it must not tell which part of the credential was wrong.
func Unauthorizedf(w http.ResponseWriter, format string, args ...any) {
	Write(w, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, fmt.Sprintf(format, args...))
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

// MethodNotAllowed is 405.
func MethodNotAllowed(w http.ResponseWriter, format string, args ...any) {
	Write(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, fmt.Sprintf(format, args...))
}

// Invalid is 422: the request parsed, but a field is wrong.
func Invalid(w http.ResponseWriter, format string, args ...any) {
	Write(w, http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, fmt.Sprintf(format, args...))
}

// AlreadyExists is 409 for a create whose name or id is taken: the thing
// asked for exists already.
func AlreadyExists(w http.ResponseWriter, format string, args ...any) {
	Write(w, http.StatusConflict, metav1.StatusReasonAlreadyExists, fmt.Sprintf(format, args...))
}

// Conflict is 409 for a request that cannot be done in the current state
// (something else must change first: a user is disabled, an operation is
// running, the object is in use).
func Conflict(w http.ResponseWriter, format string, args ...any) {
	Write(w, http.StatusConflict, metav1.StatusReasonConflict, fmt.Sprintf(format, args...))
}

// TooLarge is 413: the request body is over the limit.
func TooLarge(w http.ResponseWriter, format string, args ...any) {
	Write(w, http.StatusRequestEntityTooLarge, metav1.StatusReasonRequestEntityTooLarge, fmt.Sprintf(format, args...))
}

// TooManyRequests is 429. A positive retryAfter is sent as Retry-After
// (whole seconds, rounded up), which client-go honours.
func TooManyRequests(w http.ResponseWriter, retryAfter time.Duration, format string, args ...any) {
	if retryAfter > 0 {
		secs := (retryAfter + time.Second - 1) / time.Second
		w.Header().Set("Retry-After", strconv.FormatInt(int64(secs), 10))
	}
	Write(w, http.StatusTooManyRequests, metav1.StatusReasonTooManyRequests, fmt.Sprintf(format, args...))
}

// Internal is 500 with a generic message; the caller logs the cause.
func Internal(w http.ResponseWriter) {
	Write(w, http.StatusInternalServerError, metav1.StatusReasonInternalError,
		"internal error; the server log has the details")
}

// BadGateway is 502: what Drover forwards to (a cluster through its
// agent, a cluster driver) failed or answered badly. Its reason is
// ServiceUnavailable; see the package doc for why.
func BadGateway(w http.ResponseWriter, format string, args ...any) {
	Write(w, http.StatusBadGateway, metav1.StatusReasonServiceUnavailable, fmt.Sprintf(format, args...))
}

// Unavailable is 503: e.g. the cluster's tunnel is down.
func Unavailable(w http.ResponseWriter, format string, args ...any) {
	Write(w, http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, fmt.Sprintf(format, args...))
}

// Code answers code with the reason that goes with it (ReasonFor), for a
// caller whose code comes from elsewhere (a library's error callback).
func Code(w http.ResponseWriter, code int, format string, args ...any) {
	Write(w, code, ReasonFor(code), fmt.Sprintf(format, args...))
}

// ReasonFor is the reason this package's helpers send with code;
// metav1.StatusReasonUnknown ("") for a code none of them sends.
func ReasonFor(code int) metav1.StatusReason {
	switch code {
	case http.StatusBadRequest:
		return metav1.StatusReasonBadRequest
	case http.StatusUnauthorized:
		return metav1.StatusReasonUnauthorized
	case http.StatusForbidden:
		return metav1.StatusReasonForbidden
	case http.StatusNotFound:
		return metav1.StatusReasonNotFound
	case http.StatusMethodNotAllowed:
		return metav1.StatusReasonMethodNotAllowed
	case http.StatusConflict:
		return metav1.StatusReasonConflict
	case http.StatusRequestEntityTooLarge:
		return metav1.StatusReasonRequestEntityTooLarge
	case http.StatusUnprocessableEntity:
		return metav1.StatusReasonInvalid
	case http.StatusTooManyRequests:
		return metav1.StatusReasonTooManyRequests
	case http.StatusInternalServerError:
		return metav1.StatusReasonInternalError
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return metav1.StatusReasonServiceUnavailable
	}
	return metav1.StatusReasonUnknown
}
