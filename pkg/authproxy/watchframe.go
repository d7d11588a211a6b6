package authproxy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
)

// maxWatchFrame bounds one watch event the proxy holds whole: an object
// over it (the apiserver's own limit is about 3 MiB) ends the watch.
const maxWatchFrame = 16 << 20

// initialEventsEnd is the annotation of the bookmark that ends a streaming
// list's initial events (sendInitialEvents=true).
const initialEventsEnd = "k8s.io/initial-events-end"

// errFrameTooLarge ends a watch whose event is over maxWatchFrame, or
// whose large event would take the proxy past maxHeldFrames.
var errFrameTooLarge = errors.New("watch event larger than the proxy holds")

// freeFrame is what one watch may hold of an event without asking the
// budget; maxHeldFrames bounds what all watches hold beyond that, so that
// a cluster sending large events to many watches cannot exhaust the
// server's memory.
const (
	freeFrame     = 256 << 10
	maxHeldFrames = 256 << 20
)

// heldBudget counts the bytes of large watch events held at once.
type heldBudget struct {
	mu   sync.Mutex
	held int64
}

// take reserves n bytes; false if that would pass maxHeldFrames.
func (b *heldBudget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held+n > maxHeldFrames {
		return false
	}
	b.held += n
	return true
}

func (b *heldBudget) give(n int64) {
	b.mu.Lock()
	b.held -= n
	b.mu.Unlock()
}

// holding is one watch's reservation from the budget.
type holding struct {
	budget *heldBudget
	taken  int64
}

// grow makes the reservation cover size bytes of the current event.
func (h *holding) grow(size int64) bool {
	need := size - freeFrame - h.taken
	if need <= 0 {
		return true
	}
	if !h.budget.take(need) {
		return false
	}
	h.taken += need
	return true
}

// release gives the reservation back (the event was handed on).
func (h *holding) release() {
	if h.taken > 0 {
		h.budget.give(h.taken)
		h.taken = 0
	}
}

// eventInfo is what the proxy reads of a watch event.
type eventInfo struct {
	typ string
	// rv is the event object's resourceVersion; empty for ERROR events.
	rv string
	// initialEnd is a bookmark that ends a streaming list's initial events.
	initialEnd bool
}

// framer reads a watch stream one whole event at a time: next returns the
// event's bytes as the client gets them, io.EOF at a clean end between
// events, any other error when the stream broke (a partial event is never
// returned). Each call gives back what the previous event held of the
// budget; release gives back the rest.
type framer interface {
	next() ([]byte, eventInfo, error)
	release()
}

// watchFormat is the encoding of a watch stream.
type watchFormat int

const (
	formatUnknown watchFormat = iota
	formatJSON
	formatProtobuf
)

// formatOf reads a watch response's Content-Type.
func formatOf(contentType string) watchFormat {
	mt, params, err := mime.ParseMediaType(contentType)
	switch {
	case err != nil:
		return formatUnknown
	case mt == "application/json":
		return formatJSON
	case mt == "application/vnd.kubernetes.protobuf" && params["stream"] == "watch":
		return formatProtobuf
	}
	return formatUnknown
}

func newFramer(f watchFormat, body io.Reader, budget *heldBudget) framer {
	h := &holding{budget: budget}
	if f == formatProtobuf {
		return &protoFramer{r: bufio.NewReaderSize(body, 32<<10), h: h}
	}
	lr := &frameLimit{r: body, h: h}
	dec := json.NewDecoder(lr)
	return &jsonFramer{dec: dec, lr: lr}
}

// jsonFramer reads newline-separated JSON watch events (kubectl's).
type jsonFramer struct {
	dec *json.Decoder
	lr  *frameLimit
}

// frameLimit fails reads past maxWatchFrame beyond the end of the last
// whole event (plus the decoder's read-ahead), or past what the budget
// gives.
type frameLimit struct {
	r     io.Reader
	h     *holding
	read  int64
	limit int64
}

func (l *frameLimit) Read(p []byte) (int, error) {
	held := l.read - l.limit
	if held > maxWatchFrame+64<<10 || !l.h.grow(held+int64(len(p))) {
		return 0, errFrameTooLarge
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	return n, err
}

func (j *jsonFramer) release() { j.lr.h.release() }

func (j *jsonFramer) next() ([]byte, eventInfo, error) {
	j.lr.h.release()
	var raw json.RawMessage
	if err := j.dec.Decode(&raw); err != nil {
		if err == io.EOF {
			return nil, eventInfo{}, io.EOF
		}
		if errors.Is(err, errFrameTooLarge) {
			return nil, eventInfo{}, err
		}
		return nil, eventInfo{}, fmt.Errorf("read watch event: %w", err)
	}
	j.lr.limit = j.dec.InputOffset()
	info, err := jsonEventInfo(raw)
	if err != nil {
		return nil, eventInfo{}, err
	}
	return append(raw, '\n'), info, nil
}

// jsonEventInfo reads an event's type, its object's resourceVersion and
// whether it ends a streaming list's initial events.
func jsonEventInfo(raw []byte) (eventInfo, error) {
	var ev struct {
		Type   string `json:"type"`
		Object struct {
			Metadata struct {
				ResourceVersion string            `json:"resourceVersion"`
				Annotations     map[string]string `json:"annotations"`
			} `json:"metadata"`
		} `json:"object"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return eventInfo{}, fmt.Errorf("watch event: %w", err)
	}
	info := eventInfo{typ: ev.Type}
	if ev.Type != string(watchError) {
		info.rv = ev.Object.Metadata.ResourceVersion
		info.initialEnd = ev.Type == string(watchBookmark) && ev.Object.Metadata.Annotations[initialEventsEnd] == "true"
	}
	return info, nil
}

// protoFramer reads length-prefixed protobuf watch events (client-go's
// controllers'): 4 bytes of big-endian length, then a metav1.WatchEvent.
type protoFramer struct {
	r *bufio.Reader
	h *holding
}

func (p *protoFramer) release() { p.h.release() }

func (p *protoFramer) next() ([]byte, eventInfo, error) {
	p.h.release()
	var hdr [4]byte
	if _, err := io.ReadFull(p.r, hdr[:]); err != nil {
		if err == io.EOF {
			return nil, eventInfo{}, io.EOF
		}
		return nil, eventInfo{}, fmt.Errorf("read watch event: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxWatchFrame || !p.h.grow(int64(n)+4) {
		return nil, eventInfo{}, errFrameTooLarge
	}
	// Grown as the bytes come: a length alone allocates little.
	var buf bytes.Buffer
	buf.Grow(4 + min(int(n), 64<<10))
	buf.Write(hdr[:])
	if _, err := io.CopyN(&buf, p.r, int64(n)); err != nil {
		return nil, eventInfo{}, fmt.Errorf("read watch event: %w", io.ErrUnexpectedEOF)
	}
	frame := buf.Bytes()
	info, err := protoEventInfo(frame[4:])
	if err != nil {
		return nil, eventInfo{}, err
	}
	return frame, info, nil
}

// protoEventInfo walks a protobuf metav1.WatchEvent without knowing the
// object's type: every top-level Kubernetes object has its ObjectMeta as
// field 1, whose resourceVersion is field 6 and annotations field 12. The
// object is a runtime.Unknown (field 2 of the RawExtension, after the
// "k8s\x00" magic) whose raw bytes are field 2.
func protoEventInfo(b []byte) (eventInfo, error) {
	var info eventInfo
	var object []byte
	err := fields(b, func(num protowire.Number, v []byte) error {
		switch num {
		case 1:
			info.typ = string(v)
		case 2:
			return fields(v, func(num protowire.Number, raw []byte) error {
				if num == 1 {
					object = raw
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return eventInfo{}, fmt.Errorf("watch event: %w", err)
	}
	if info.typ == string(watchError) {
		return info, nil
	}
	unknown, ok := bytes.CutPrefix(object, protobufMagic)
	if !ok {
		return eventInfo{}, errors.New("watch event: object is not a protobuf Kubernetes object")
	}
	var obj, meta []byte
	err = fields(unknown, func(num protowire.Number, v []byte) error {
		if num == 2 {
			obj = v
		}
		return nil
	})
	if err == nil {
		err = fields(obj, func(num protowire.Number, v []byte) error {
			if num == 1 {
				meta = v
			}
			return nil
		})
	}
	if err == nil {
		err = fields(meta, func(num protowire.Number, v []byte) error {
			switch num {
			case 6:
				info.rv = string(v)
			case 12:
				var key, value string
				if err := fields(v, func(num protowire.Number, kv []byte) error {
					switch num {
					case 1:
						key = string(kv)
					case 2:
						value = string(kv)
					}
					return nil
				}); err != nil {
					return err
				}
				if key == initialEventsEnd && value == "true" && info.typ == string(watchBookmark) {
					info.initialEnd = true
				}
			}
			return nil
		})
	}
	if err != nil {
		return eventInfo{}, fmt.Errorf("watch event object: %w", err)
	}
	return info, nil
}

// fields calls fn with every length-delimited field of a protobuf message
// (the only wire type the fields read here have) and skips the others.
func fields(b []byte, fn func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return protowire.ParseError(m)
			}
			if err := fn(num, v); err != nil {
				return err
			}
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return protowire.ParseError(m)
		}
		b = b[m:]
	}
	return nil
}

var protobufMagic = []byte{0x6b, 0x38, 0x73, 0x00}

const (
	watchError    = "ERROR"
	watchBookmark = "BOOKMARK"
)

// errorEvent encodes an ERROR watch event carrying status in format f, as
// the apiserver would send it.
func errorEvent(f watchFormat, status *metav1.Status) ([]byte, error) {
	status.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	status.Status = metav1.StatusFailure
	if f != formatProtobuf {
		obj, err := json.Marshal(status)
		if err != nil {
			return nil, err
		}
		ev, err := json.Marshal(struct {
			Type   string          `json:"type"`
			Object json.RawMessage `json:"object"`
		}{watchError, obj})
		return append(ev, '\n'), err
	}
	scheme := runtime.NewScheme()
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	var obj bytes.Buffer
	if err := protobuf.NewSerializer(scheme, scheme).Encode(status, &obj); err != nil {
		return nil, err
	}
	ev := metav1.WatchEvent{Type: watchError, Object: runtime.RawExtension{Raw: obj.Bytes()}}
	b, err := ev.Marshal()
	if err != nil {
		return nil, err
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...), nil
}
