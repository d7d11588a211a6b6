package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
)

// ParseLine reads one line of the log, in either format, as an Entry: a
// Drover line as it is; an audit.k8s.io/v1 Event mapped back to the
// Entry it was written from. The mapping loses what Entry has no field
// for: the Event's auditID, userAgent, level and stage, a proxied
// request's requestURI (an API call's is its path), and the objectRef's
// apiGroup and apiVersion; the latency is to the microsecond (MicroTime).
// Unknown fields are ignored, so that lines of a later version parse. The
// format is told from the line as Drover writes it (encoding/json, without
// spaces): a line that names apiVersion audit.k8s.io/v1 so is an Event.
func ParseLine(line []byte) (Entry, error) {
	var e Entry
	// An Event as encoding/json writes it names its apiVersion so (a
	// string value cannot hold an unescaped quote); an Entry has none.
	if bytes.Contains(line, kubernetesMarker) {
		var ev auditv1.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			return Entry{}, fmt.Errorf("audit event: %w", err)
		}
		if ev.Kind != "Event" || ev.APIVersion != auditv1.SchemeGroupVersion.String() {
			return Entry{}, errors.New("audit line: neither an Entry nor an Event")
		}
		e = fromKubernetes(&ev)
	} else if err := json.Unmarshal(line, &e); err != nil {
		return Entry{}, fmt.Errorf("audit entry: %w", err)
	}
	if e.Time.IsZero() {
		return Entry{}, errors.New("audit line: no time")
	}
	return e, nil
}

// kubernetesMarker is in every line of the Kubernetes format.
var kubernetesMarker = []byte(`"apiVersion":"` + auditv1.SchemeGroupVersion.String() + `"`)

// fromKubernetes is the Entry kubernetesEvent wrote ev from, as far as ev
// tells.
func fromKubernetes(ev *auditv1.Event) Entry {
	e := Entry{
		Time:    ev.RequestReceivedTimestamp.UTC(),
		Kind:    ev.Annotations[AnnotationKind],
		User:    ev.User.Username,
		UserID:  ev.User.UID,
		Groups:  ev.User.Groups,
		TokenID: ev.Annotations[AnnotationTokenID],
		Cluster: ev.Annotations[AnnotationCluster],
		Verb:    ev.Verb,
	}
	if !ev.StageTimestamp.IsZero() {
		e.LatencyMS = float64(ev.StageTimestamp.Sub(ev.RequestReceivedTimestamp.Time).Microseconds()) / 1000
	}
	if ev.ImpersonatedUser != nil {
		e.As, e.AsGroups = ev.ImpersonatedUser.Username, ev.ImpersonatedUser.Groups
	}
	if ev.ResponseStatus != nil {
		e.Status = int(ev.ResponseStatus.Code)
	}
	if len(ev.SourceIPs) > 0 {
		e.Client = ev.SourceIPs[0]
	}
	if ref := ev.ObjectRef; ref != nil {
		e.Resource, e.Namespace, e.Name = ref.Resource, ref.Namespace, ref.Name
		if ref.Subresource != "" {
			e.Resource += "/" + ref.Subresource
		}
	}
	if e.Kind != "proxy" {
		e.Path = ev.RequestURI
	}
	return e
}
