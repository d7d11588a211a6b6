package audit

import (
	"strings"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
)

// Annotations Drover adds to a Kubernetes audit Event.
const (
	AnnotationKind    = "drover.dev/kind"     // "api" (Drover's API) or "proxy" (a cluster's)
	AnnotationCluster = "drover.dev/cluster"  // the cluster a proxied request went to
	AnnotationTokenID = "drover.dev/token-id" // the credential's id, never its secret
)

// kubernetesEvent is e as kube-apiserver's audit log writes an Event at
// level Metadata, stage ResponseComplete: who, what and the answer, never
// a body.
func kubernetesEvent(e *Entry) *auditv1.Event {
	ev := &auditv1.Event{
		TypeMeta:                 metav1.TypeMeta{Kind: "Event", APIVersion: auditv1.SchemeGroupVersion.String()},
		Level:                    auditv1.LevelMetadata,
		AuditID:                  uuid.NewUUID(),
		Stage:                    auditv1.StageResponseComplete,
		RequestURI:               e.uri,
		Verb:                     e.Verb,
		User:                     authnv1.UserInfo{Username: e.User, UID: e.UserID, Groups: e.Groups},
		UserAgent:                e.userAgent,
		ResponseStatus:           &metav1.Status{Code: int32(e.Status)},
		RequestReceivedTimestamp: metav1.NewMicroTime(e.Time),
		StageTimestamp:           metav1.NewMicroTime(e.Time.Add(e.latency)),
		Annotations:              map[string]string{AnnotationKind: e.Kind},
	}
	if e.Client != "" {
		ev.SourceIPs = []string{e.Client}
	}
	if e.As != "" || len(e.AsGroups) > 0 {
		ev.ImpersonatedUser = &authnv1.UserInfo{Username: e.As, Groups: e.AsGroups}
	}
	if e.TokenID != "" {
		ev.Annotations[AnnotationTokenID] = e.TokenID
	}
	if e.Kind == "proxy" {
		ev.Annotations[AnnotationCluster] = e.Cluster
		resource, _, _ := strings.Cut(e.Resource, "/")
		if resource != "" {
			ev.ObjectRef = &auditv1.ObjectReference{Resource: resource, Namespace: e.Namespace, Name: e.Name,
				Subresource: e.subresource, APIGroup: e.apiGroup, APIVersion: e.apiVersion}
		}
	}
	return ev
}
