package driver

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/drover-dev/drover/pkg/driver/sandbox"
)

// SafeError describes an error from launching or calling a driver in
// Drover's own words, never the driver's: what a driver says may hold
// anything, so only admins see it (and the server log has it).
func SafeError(err error) string {
	var ne *noAnswerError
	var re *refusedError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ne):
		return ne.Error()
	case errors.As(err, &re):
		return re.Error()
	case errors.Is(err, ErrUnsandboxed):
		return ErrUnsandboxed.Error()
	case errors.Is(err, sandbox.ErrSetup):
		return "the driver's sandbox could not be set up (the server log says why)"
	case errors.Is(err, ErrNotFound):
		return "the driver is not registered"
	case errors.Is(err, ErrChecksum):
		return "the driver binary does not match its registered checksum; Drover refuses to run it"
	case errors.Is(err, errExited):
		return "the driver exited before answering"
	case errors.Is(err, context.DeadlineExceeded), status.Code(err) == codes.DeadlineExceeded:
		return "the driver did not finish in time"
	case errors.Is(err, context.Canceled), status.Code(err) == codes.Canceled:
		return "the call was cancelled"
	}
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.Unimplemented:
			return "the driver does not implement this"
		case codes.Unavailable:
			return "the driver stopped answering"
		}
		return "the driver reported an error"
	}
	return "the driver failed"
}

// noAnswerError is a driver that did not answer within the bound.
type noAnswerError struct {
	name    string
	timeout string
}

func (e *noAnswerError) Error() string {
	return fmt.Sprintf("driver %q did not answer within %s", e.name, e.timeout)
}

func (e *noAnswerError) Unwrap() error { return ErrNoAnswer }

var errExited = errors.New("driver exited before answering")
