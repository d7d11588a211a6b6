package api

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"

	"github.com/drover-dev/drover/pkg/apierr"
)

const maxBody = 1 << 20

// decode reads a JSON request body strictly into v, a pointer to a
// request struct: one JSON value (an empty body decodes to the zero
// value), every key a field of v spelt exactly as its json name, no key
// twice, every value of its field's type. Otherwise it answers a Status
// naming the fields (400, or 422 for a wrong type; 413 past 1 MiB) and
// returns false. Messages name JSON fields and kinds, never Go types, and
// never echo a value.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if maxErr := (*http.MaxBytesError)(nil); errors.As(err, &maxErr) {
		apierr.Write(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "request body larger than 1 MiB")
		return false
	}
	if err != nil {
		apierr.BadRequest(w, "request body could not be read")
		return false
	}
	if derr := decodeStrict(body, v); derr != nil {
		derr.write(w)
		return false
	}
	return true
}

// decodeError is a refused body: the Status to answer.
type decodeError struct {
	invalid bool // 422 rather than 400
	message string
	fields  field.ErrorList
}

func (e *decodeError) write(w http.ResponseWriter) {
	if e.invalid {
		apierr.InvalidFields(w, e.message, e.fields)
		return
	}
	apierr.BadRequestFields(w, e.message, e.fields)
}

// decodeStrict is decode's work on a body already read.
func decodeStrict(body []byte, v any) *decodeError {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	// One JSON value, and nothing after it.
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return syntaxError(err)
	}
	if rest := bytes.TrimSpace(body[dec.InputOffset():]); len(rest) > 0 {
		return &decodeError{message: fmt.Sprintf("request body holds more than one JSON value (more at byte %d)", int64(len(body)-len(rest)))}
	}
	strict, err := sigsjson.UnmarshalStrict(raw, v)
	if err != nil {
		if ok, _ := sigsjson.SyntaxErrorOffset(err); ok {
			return syntaxError(err)
		}
		return typeError(raw, v)
	}
	if len(strict) == 0 {
		return nil
	}
	var errs field.ErrorList
	var msgs []string
	for _, e := range strict {
		errs = append(errs, strictFieldError(reflect.TypeOf(v), e))
		msgs = append(msgs, strictMessage(reflect.TypeOf(v), e))
	}
	return &decodeError{message: "request body: " + strings.Join(msgs, "; "), fields: errs}
}

func syntaxError(err error) *decodeError {
	if ok, off := sigsjson.SyntaxErrorOffset(err); ok {
		return &decodeError{message: fmt.Sprintf("request body is not valid JSON (at byte %d)", off)}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &decodeError{message: "request body is not valid JSON (it ends early)"}
	}
	return &decodeError{message: "request body is not valid JSON"}
}

// typeError names the field whose value has the wrong type. The strict
// decoder's error type is internal to it, so the body is decoded again
// with encoding/json (the decoder it is a copy of) to learn the field.
func typeError(raw []byte, v any) *decodeError {
	fresh := reflect.New(reflect.TypeOf(v).Elem()).Interface()
	var typ *json.UnmarshalTypeError
	if err := json.Unmarshal(raw, fresh); !errors.As(err, &typ) {
		return &decodeError{invalid: true, message: "request body: a value has the wrong type"}
	}
	want, got := jsonKind(typ.Type), valueKind(typ.Value)
	if typ.Field == "" {
		return &decodeError{invalid: true, message: fmt.Sprintf("request body must be %s, not %s", want, got)}
	}
	detail := fmt.Sprintf("must be %s, not %s", want, got)
	return &decodeError{
		invalid: true,
		message: fmt.Sprintf("request body: field %q %s", typ.Field, detail),
		fields:  field.ErrorList{field.TypeInvalid(field.NewPath(typ.Field), field.OmitValueType{}, detail)},
	}
}

// jsonKind says what JSON encoding/json accepts for t.
func jsonKind(t reflect.Type) string {
	if t.Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) || reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another kind of value"
}

// valueKind names encoding/json's description of a JSON value ("number
// 5", "bool") without the value.
func valueKind(v string) string {
	kind, _, _ := strings.Cut(v, " ")
	switch kind {
	case "string":
		return "a string"
	case "number":
		if v == "number" {
			return "a number"
		}
		if strings.ContainsAny(v, ".eE") {
			return "a fractional or out-of-range number"
		}
		return "a number out of range"
	case "bool":
		return "true or false"
	case "array":
		return "an array"
	case "object":
		return "an object"
	}
	return "a value of another kind"
}

// strictFieldError is a cause for an unknown or repeated key.
func strictFieldError(t reflect.Type, e error) *field.Error {
	var fe sigsjson.FieldError
	path := ""
	if errors.As(e, &fe) {
		path = fe.FieldPath()
	}
	p := field.NewPath(path)
	if strings.HasPrefix(e.Error(), "duplicate field") {
		return field.Duplicate(p, field.OmitValueType{})
	}
	if known := jsonFieldsAt(t, path); len(known) > 0 {
		return field.NotSupported(p, lastKey(path), known)
	}
	return field.Forbidden(p, "unknown field")
}

// strictMessage is the summary of an unknown or repeated key, with the
// right spelling when only the case was wrong.
func strictMessage(t reflect.Type, e error) string {
	var fe sigsjson.FieldError
	if !errors.As(e, &fe) {
		return "invalid field"
	}
	path := fe.FieldPath()
	if strings.HasPrefix(e.Error(), "duplicate field") {
		return fmt.Sprintf("field %q appears more than once", path)
	}
	key := lastKey(path)
	for _, name := range jsonFieldsAt(t, path) {
		if strings.EqualFold(name, key) {
			return fmt.Sprintf("unknown field %q (field names are case-sensitive: %q)", path, name)
		}
	}
	return fmt.Sprintf("unknown field %q", path)
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

func lastKey(path string) string {
	segs := strings.Split(indexRE.ReplaceAllString(path, ""), ".")
	return segs[len(segs)-1]
}

// jsonFieldsAt returns the JSON field names of the struct holding the last
// key of path (as the strict decoder writes it: a.b[0].c) within t; nil
// when path does not lead to a struct.
func jsonFieldsAt(t reflect.Type, path string) []string {
	segs := strings.Split(indexRE.ReplaceAllString(path, ""), ".")
	for _, seg := range segs[:len(segs)-1] {
		t = elemType(t)
		switch t.Kind() {
		case reflect.Map:
			t = t.Elem()
		case reflect.Struct:
			f, ok := structField(t, seg)
			if !ok {
				return nil
			}
			t = f
		default:
			return nil
		}
	}
	t = elemType(t)
	if t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for _, f := range reflect.VisibleFields(t) {
		if name, ok := jsonName(f); ok {
			names = append(names, name)
		}
	}
	return names
}

// elemType strips pointers, slices and arrays (their indexes are not path
// segments).
func elemType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	return t
}

func structField(t reflect.Type, name string) (reflect.Type, bool) {
	for _, f := range reflect.VisibleFields(t) {
		if n, ok := jsonName(f); ok && n == name {
			return f.Type, true
		}
	}
	return nil, false
}

// jsonName is the key encoding/json gives f, if any.
func jsonName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if f.Anonymous && name == "" && elemType(f.Type).Kind() == reflect.Struct {
		return "", false // its fields are promoted
	}
	if name == "" {
		name = f.Name
	}
	return name, true
}
