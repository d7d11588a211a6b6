package authproxy

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
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

// TestFramers: both encodings of a watch stream give the same events, each
// whole and as sent, with their resourceVersion, the end of a streaming
// list's initial events, and a clean end; a stream cut inside an event is
// an error, not a partial event.
func TestFramers(t *testing.T) {
	status := &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
		Code: 410, Reason: metav1.StatusReasonExpired, ListMeta: metav1.ListMeta{ResourceVersion: "99"}}
	js, ps := events(t,
		metav1.WatchEvent{Type: "ADDED", Object: configMap("7", nil)},
		metav1.WatchEvent{Type: "BOOKMARK", Object: configMap("8", map[string]string{initialEventsEnd: "true"})},
		metav1.WatchEvent{Type: "BOOKMARK", Object: configMap("9", map[string]string{"other": "true"})},
		metav1.WatchEvent{Type: "MODIFIED", Object: configMap("10", map[string]string{initialEventsEnd: "true"})},
		metav1.WatchEvent{Type: "ERROR", Object: runtime.RawExtension{Object: status}},
	)
	want := []eventInfo{{typ: "ADDED", rv: "7"}, {typ: "BOOKMARK", rv: "8", initialEnd: true}, {typ: "BOOKMARK", rv: "9"},
		{typ: "MODIFIED", rv: "10"}, {typ: "ERROR"}}
	for name, tc := range map[string]struct {
		f      watchFormat
		stream []byte
	}{"json": {formatJSON, js}, "protobuf": {formatProtobuf, ps}} {
		t.Run(name, func(t *testing.T) {
			fr := newFramer(tc.f, bytes.NewReader(tc.stream), &heldBudget{})
			var got []eventInfo
			var out []byte
			for {
				frame, info, err := fr.next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, info)
				out = append(out, frame...)
			}
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(eventInfo{})); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if tc.f == formatProtobuf && !bytes.Equal(out, tc.stream) {
				t.Error("the frames are not the stream as sent")
			}
			// Cut anywhere inside the last event: the events before it, then
			// an error that is not io.EOF (a JSON event is whole without its
			// newline).
			end := len(tc.stream) - 1
			if tc.f == formatJSON {
				end--
			}
			for cut := end; cut > len(tc.stream)-20; cut-- {
				fr := newFramer(tc.f, bytes.NewReader(tc.stream[:cut]), &heldBudget{})
				n := 0
				var err error
				for err == nil {
					_, _, err = fr.next()
					n++
				}
				if err == io.EOF || n != len(want) {
					t.Fatalf("cut at %d: %d events then %v; want %d then a broken-stream error", cut, n-1, err, len(want)-1)
				}
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
		frame, info, err := newFramer(f, bytes.NewReader(b), &heldBudget{}).next()
		if err != nil || info.typ != "ERROR" || !bytes.Equal(frame, b) {
			t.Fatalf("format %d: %v %+v", f, err, info)
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

// FuzzFramers: whatever a cluster sends, the framers return whole events
// no larger than the bound, or an error; they never panic.
func FuzzFramers(f *testing.F) {
	f.Add([]byte(`{"type":"ADDED","object":{"metadata":{"resourceVersion":"1"}}}` + "\n"))
	f.Add([]byte{0, 0, 0, 4, 10, 2, 'h', 'i'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, fm := range []watchFormat{formatJSON, formatProtobuf} {
			budget := &heldBudget{}
			fr := newFramer(fm, bytes.NewReader(b), budget)
			for range 100 {
				frame, _, err := fr.next()
				if err != nil {
					break
				}
				if len(frame) > maxWatchFrame+4+1 {
					t.Fatalf("a frame of %d bytes", len(frame))
				}
			}
			fr.release()
			if budget.held != 0 {
				t.Fatalf("%d bytes still held after release", budget.held)
			}
		}
	})
}

// TestHeldBudget: large events held by all watches together stay under
// maxHeldFrames: a watch whose event would pass it ends (errFrameTooLarge)
// while others hold theirs, and the budget comes back as events are handed
// on.
func TestHeldBudget(t *testing.T) {
	big := func() []byte {
		_, ps := events(t, metav1.WatchEvent{Type: "ADDED", Object: runtime.RawExtension{Object: &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: "big", ResourceVersion: "1"},
			Data:       map[string]string{"k": strings.Repeat("x", 2<<20)}}}})
		return ps
	}()
	budget := &heldBudget{held: maxHeldFrames - 3<<20} // room for one 2 MiB event
	a := newFramer(formatProtobuf, bytes.NewReader(big), budget)
	b := newFramer(formatProtobuf, bytes.NewReader(big), budget)
	if _, _, err := a.next(); err != nil {
		t.Fatalf("the first large event: %v", err)
	}
	if _, _, err := b.next(); !errors.Is(err, errFrameTooLarge) {
		t.Fatalf("a second large event while the first is held: %v, want errFrameTooLarge", err)
	}
	a.release()
	c := newFramer(formatJSON, strings.NewReader(`{"type":"ADDED","object":{"metadata":{"resourceVersion":"2"},"data":"`+
		strings.Repeat("x", 1<<20)+`"}}`), budget)
	if _, _, err := c.next(); err != nil {
		t.Fatalf("after the first was handed on: %v", err)
	}
	c.release()
	if budget.held != maxHeldFrames-3<<20 {
		t.Errorf("held %d after every release, want the %d held before", budget.held, maxHeldFrames-3<<20)
	}
}
