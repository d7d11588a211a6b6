package chain

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPanicRecovery: a panicking handler answers a 500 Status and logs the
// panic, with secrets in the path redacted; http.ErrAbortHandler is passed
// on to net/http.
func TestPanicRecovery(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	h := WithPanicRecovery(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), logger)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v3/import/r-abc:supersecretvalue.yaml", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), `"kind":"Status"`) ||
		strings.Contains(rec.Body.String(), "boom") {
		t.Errorf("answer %d %s; want a 500 Status without the panic value", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logs.String(), "handler panic") || !strings.Contains(logs.String(), "boom") {
		t.Errorf("the panic was not logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), "supersecretvalue") {
		t.Errorf("the log line carries the registration token: %s", logs.String())
	}

	abort := WithPanicRecovery(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }), logger)
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler passed on", v)
		}
	}()
	abort.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	t.Error("ErrAbortHandler was swallowed")
}
