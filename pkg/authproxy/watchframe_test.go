package authproxy

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
)

func testScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	corev1.AddToScheme(s)
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	return s
}

// events encodes the same watch events as the apiserver would in JSON and
// in protobuf.
func events(t *testing.T, evs ...metav1.WatchEvent) (jsonStream, protoStream []byte) {
	t.Helper()
	s := testScheme()
	pb := protobuf.NewSerializer(s, s)
	for _, ev := range evs {
		obj := ev.Object.Object
		j, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		line, err := json.Marshal(metav1.WatchEvent{Type: ev.Type, Object: runtime.RawExtension{Raw: j}})
		if err != nil {
			t.Fatal(err)
		}
		jsonStream = append(append(jsonStream, line...), '\n')
		var raw bytes.Buffer
		if err := pb.Encode(obj, &raw); err != nil {
			t.Fatal(err)
		}
		b, err := (&metav1.WatchEvent{Type: ev.Type, Object: runtime.RawExtension{Raw: raw.Bytes()}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		protoStream = append(binary.BigEndian.AppendUint32(protoStream, uint32(len(b))), b...)
	}
	return jsonStream, protoStream
}

func configMap(rv string, annotations map[string]string) runtime.RawExtension {
	return runtime.RawExtension{Object: &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "w", ResourceVersion: rv, Annotations: annotations,
			Labels: map[string]string{"a": "b"}}, Data: map[string]string{"k": "v"}}}
}

// readPieces reads a stream through a framer and returns the bytes it
// handed on, the info of each event it started, the number of pieces and
// the error that ended it.
func readPieces(f watchFormat, stream []byte) (out []byte, infos []eventInfo, pieces int, err error) {
	fr := newFramer(f, bytes.NewReader(stream))
	for {
		var p piece
		p, err = fr.next()
		if err != nil {
			return out, infos, pieces, err
		}
		pieces++
		if len(p.b) > holdEvent {
			return out, infos, pieces, fmt.Errorf("a piece of %d bytes", len(p.b))
		}
		if p.start {
			infos = append(infos, p.info)
		}
		out = append(out, p.b...)
	}
}

// TestFramers: both encodings of a watch stream are handed on byte for
// byte, event by event, with each event's type, resourceVersion and the
// end of a streaming list's initial events; a large event comes in pieces
// with its resourceVersion read from the first; a stream cut inside an
// event ends with an error, not io.EOF.
func TestFramers(t *testing.T) {
	status := &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
		Code: 410, Reason: metav1.StatusReasonExpired, ListMeta: metav1.ListMeta{ResourceVersion: "99"}}
	large := configMap("11", nil)
	large.Object.(*corev1.ConfigMap).Data["big"] = strings.Repeat("x", 3*holdEvent)
	js, ps := events(t,
		metav1.WatchEvent{Type: "ADDED", Object: configMap("7", nil)},
		metav1.WatchEvent{Type: "BOOKMARK", Object: configMap("8", map[string]string{initialEventsEnd: "true"})},
		metav1.WatchEvent{Type: "BOOKMARK", Object: configMap("9", map[string]string{"other": "true"})},
		metav1.WatchEvent{Type: "MODIFIED", Object: configMap("10", map[string]string{initialEventsEnd: "true"})},
		metav1.WatchEvent{Type: "MODIFIED", Object: large},
		metav1.WatchEvent{Type: "ERROR", Object: runtime.RawExtension{Object: status}},
	)
	want := []eventInfo{{typ: "ADDED", rv: "7"}, {typ: "BOOKMARK", rv: "8", initialEnd: true}, {typ: "BOOKMARK", rv: "9"},
		{typ: "MODIFIED", rv: "10"}, {typ: "MODIFIED", rv: "11"}, {typ: "ERROR"}}
	for name, tc := range map[string]struct {
		f      watchFormat
		stream []byte
	}{"json": {formatJSON, js}, "protobuf": {formatProtobuf, ps}} {
		t.Run(name, func(t *testing.T) {
			out, got, pieces, err := readPieces(tc.f, tc.stream)
			if err != io.EOF {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(eventInfo{})); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if !bytes.Equal(out, tc.stream) {
				t.Error("the bytes handed on are not the stream as sent")
			}
			if pieces < len(want)+3 {
				t.Errorf("%d pieces: the large event was not handed on in pieces", pieces)
			}
			// Cut inside the last event: an error that is not io.EOF.
			for cut := len(tc.stream) - 2; cut > len(tc.stream)-20; cut-- {
				if _, infos, _, err := readPieces(tc.f, tc.stream[:cut]); err == io.EOF || len(infos) > len(want) {
					t.Fatalf("cut at %d: %d events then %v; want a broken-stream error", cut, len(infos), err)
				}
			}
		})
	}
}

// TestPartialInfo: from any first part of an event, the resourceVersion
// read is the event's or nothing, never another.
func TestPartialInfo(t *testing.T) {
	ev := metav1.WatchEvent{Type: "MODIFIED", Object: configMap("12345", map[string]string{"resourceVersion": "666"})}
	js, ps := events(t, ev)
	for name, tc := range map[string]struct {
		b  []byte
		fn func([]byte) eventInfo
	}{"json": {js, partialJSONInfo}, "protobuf": {ps[4:], partialProtoInfo}} {
		t.Run(name, func(t *testing.T) {
			found := false
			for i := range len(tc.b) + 1 {
				info := tc.fn(tc.b[:i])
				if info.rv != "" && info.rv != "12345" {
					t.Fatalf("prefix %d: rv %q", i, info.rv)
				}
				found = found || info.rv == "12345"
			}
			if info := tc.fn(tc.b); info.rv != "12345" || info.typ != "MODIFIED" {
				t.Errorf("whole event: %+v", info)
			}
			if !found {
				t.Error("never read the resourceVersion")
			}
		})
	}
}

// TestErrorEvent: the ERROR events the proxy writes decode as client-go
// decodes the apiserver's, in both encodings.
func TestErrorEvent(t *testing.T) {
	want := &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
		Code: 503, Reason: metav1.StatusReasonServiceUnavailable, Message: "gone away"}
	for _, f := range []watchFormat{formatJSON, formatProtobuf} {
		b, err := errorEvent(f, &metav1.Status{Code: 503, Reason: metav1.StatusReasonServiceUnavailable, Message: "gone away"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := newFramer(f, bytes.NewReader(b)).next()
		if err != nil || p.info.typ != "ERROR" || !bytes.Equal(p.b, b) || !p.start || !p.end {
			t.Fatalf("format %d: %v %+v", f, err, p.info)
		}
		got := &metav1.Status{}
		if f == formatJSON {
			var ev struct{ Object json.RawMessage }
			if err := json.Unmarshal(b, &ev); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(ev.Object, got); err != nil {
				t.Fatal(err)
			}
		} else {
			var ev metav1.WatchEvent
			if err := ev.Unmarshal(b[4:]); err != nil {
				t.Fatal(err)
			}
			s := testScheme()
			obj, _, err := protobuf.NewSerializer(s, s).Decode(ev.Object.Raw, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			got = obj.(*metav1.Status)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("format %d: Status (-want +got):\n%s", f, diff)
		}
	}
}

func TestFormatOf(t *testing.T) {
	for ct, want := range map[string]watchFormat{
		"application/json": formatJSON, "application/json;stream=watch": formatJSON,
		"application/vnd.kubernetes.protobuf;stream=watch": formatProtobuf, "application/vnd.kubernetes.protobuf": formatUnknown,
		"application/cbor-seq": formatUnknown, "": formatUnknown, "text/plain": formatUnknown, ";;": formatUnknown,
	} {
		if got := formatOf(ct); got != want {
			t.Errorf("formatOf(%q) = %d, want %d", ct, got, want)
		}
	}
}

// FuzzFramers: whatever a cluster sends, the framers hand on exactly the
// bytes it sent (a prefix of them when the stream is malformed or cut), in
// pieces no larger than holdEvent, and never panic; the partial readers
// never panic either.
func FuzzFramers(f *testing.F) {
	f.Add([]byte(`{"type":"ADDED","object":{"metadata":{"resourceVersion":"1"}}}` + "\n"))
	f.Add([]byte{0, 0, 0, 4, 10, 2, 'h', 'i'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, fm := range []watchFormat{formatJSON, formatProtobuf} {
			out, _, _, err := readPieces(fm, b)
			if err != nil && strings.HasPrefix(err.Error(), "a piece of") {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, out) {
				t.Fatalf("format %d handed on bytes that were not sent", fm)
			}
		}
		partialJSONInfo(b)
		partialProtoInfo(b)
	})
}
