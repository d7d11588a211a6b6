package apierr

import (
	"encoding/json"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// BadRequestFields is 400 for a request Drover cannot read (an unknown or
// repeated field), with one details.causes entry per field error, as
// kube-apiserver answers; message is the summary clients print. The field
// errors must hold no secret: build them with field.OmitValueType{} where
// the value could be one.
func BadRequestFields(w http.ResponseWriter, message string, errs field.ErrorList) {
	st := apierrors.NewBadRequest(message).Status()
	if len(errs) > 0 {
		st.Details = &metav1.StatusDetails{Causes: causes(errs)}
	}
	WriteStatus(w, st)
}

// InvalidFields is 422: the request was read, but fields are wrong. Like
// BadRequestFields, with one cause per field error.
func InvalidFields(w http.ResponseWriter, message string, errs field.ErrorList) {
	st := apierrors.NewInvalid(schema.GroupKind{}, "", errs).Status()
	st.Message = message
	if len(errs) == 0 {
		st.Details = nil
	}
	WriteStatus(w, st)
}

// causes converts field errors the way apimachinery's NewInvalid does.
func causes(errs field.ErrorList) []metav1.StatusCause {
	return apierrors.NewInvalid(schema.GroupKind{}, "", errs).ErrStatus.Details.Causes
}

// WriteStatus sends st as it is, with its kind and apiVersion filled in.
func WriteStatus(w http.ResponseWriter, st metav1.Status) {
	st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	code := int(st.Code)
	if code < 400 || code > 599 {
		code = http.StatusInternalServerError
		st.Code = int32(code)
	}
	b, err := json.Marshal(st)
	if err != nil { // cannot happen for this type
		http.Error(w, st.Message, code)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
