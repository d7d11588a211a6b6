package request

import (
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/drover-dev/drover/pkg/token"
)

// This file owns redaction: what of a request's path or of a URL a log line
// or a view may show. Nothing else in Drover redacts paths or URLs.

// maxLogPath bounds a path in a log line.
const maxLogPath = 256

// importPrefix is where registration tokens are a path segment
// (/v3/import/<token>.yaml).
const importPrefix = "/v3/import/"

// redactedURL stands for a URL that cannot be shown safely in part.
const redactedURL = "<redacted URL>"

// LogPath is r's path as a log line may show it: Info.LogPath when
// WithRequestInfo ran, RedactPath of the path otherwise. Every log line
// that names a request's path uses it.
func LogPath(r *http.Request) string {
	if info, ok := FromContext(r.Context()); ok {
		return info.LogPath
	}
	return RedactPath(r.URL.Path)
}

// RedactPath returns a request path fit for a log line: the registration
// token of /v3/import/<token> hidden (however the path spells it: doubled
// slashes and dot segments are not cleaned before routing), every token
// secret anywhere in it hidden (token.RedactSecrets: whatever separates it
// from its id or its neighbours), and the length bounded.
func RedactPath(p string) string {
	if strings.HasPrefix(path.Clean(p), importPrefix) {
		return importPrefix + "<redacted>"
	}
	p = token.RedactSecrets(p)
	if len(p) > maxLogPath {
		return p[:maxLogPath] + "…"
	}
	return p
}

// redactSegment is the path segment s with any token secret in it hidden.
// The audit log's descriptions of a proxied request (RequestInfo) are made
// of segments passed through it.
func redactSegment(s string) string { return token.RedactSecrets(s) }

// RedactURL returns a URL as a view or a log line may show it: without its
// userinfo, query and fragment, which may hold credentials (a password, a
// presigned URL's signature). A value that does not parse as a URL, or
// whose opaque part could hide credentials, is shown as "<redacted URL>".
// Every URL field of every view, and every log line that names a URL a
// client or an admin gave, uses it.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return redactedURL
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}
