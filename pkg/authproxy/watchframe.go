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

	"google.golang.org/protobuf/encoding/protowire"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
)

// holdEvent is the largest watch event the proxy holds whole before it
// hands it on; a larger one is handed on in pieces as it comes (its
// resourceVersion read from its first piece), so a watch costs the proxy at
// most this much memory whatever a cluster sends, and a stalled client
// holds no more than that.
const holdEvent = 64 << 10

// initialEventsEnd is the annotation of the bookmark that ends a streaming
// list's initial events (sendInitialEvents=true).
const initialEventsEnd = "k8s.io/initial-events-end"

// eventInfo is what the proxy reads of a watch event.
type eventInfo struct {
	typ string
	// rv is the event object's resourceVersion; empty for ERROR events and
	// when it could not be read (a large event whose first piece lacks it).
	rv string
	// initialEnd is a bookmark that ends a streaming list's initial events.
	initialEnd bool
}

// piece is what a framer hands on: a whole event, or a piece of a large
// one. b stays valid until the next call of next.
type piece struct {
	b     []byte
	start bool      // the first piece of an event; info is set
	end   bool      // the last piece of an event
	info  eventInfo // of the event this piece starts
}

// framer reads a watch stream event by event: next returns io.EOF at a
// clean end between events and any other error when the stream broke (a
// partial event is never returned whole; a large one may have been handed
// on in part: see piece).
type framer interface {
	next() (piece, error)
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

func newFramer(f watchFormat, body io.Reader) framer {
	if f == formatProtobuf {
		return &protoFramer{r: bufio.NewReaderSize(body, 4<<10), buf: make([]byte, holdEvent)}
	}
	return &jsonFramer{r: bufio.NewReaderSize(body, holdEvent)}
}

// jsonFramer reads JSON watch events, one per line: the apiserver writes
// them compact (a newline inside an event is escaped), unless the client
// asked for pretty output, which the proxy does not resume.
type jsonFramer struct {
	r    *bufio.Reader
	long bool // inside a large event
}

func (j *jsonFramer) next() (piece, error) {
	line, err := j.r.ReadSlice('\n')
	switch {
	case err == nil && j.long:
		j.long = false
		return piece{b: line, end: true}, nil
	case err == nil:
		info, err := jsonEventInfo(line)
		if err != nil {
			return piece{}, err
		}
		return piece{b: line, start: true, end: true, info: info}, nil
	case errors.Is(err, bufio.ErrBufferFull) && j.long:
		return piece{b: line}, nil
	case errors.Is(err, bufio.ErrBufferFull):
		j.long = true
		return piece{b: line, start: true, info: partialJSONInfo(line)}, nil
	case err == io.EOF && len(line) == 0 && !j.long:
		return piece{}, io.EOF
	case err == io.EOF:
		return piece{}, fmt.Errorf("read watch event: %w", io.ErrUnexpectedEOF)
	}
	return piece{}, fmt.Errorf("read watch event: %w", err)
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
	r    *bufio.Reader
	buf  []byte
	left int // bytes of a large event still to come
}

func (p *protoFramer) next() (piece, error) {
	if p.left > 0 {
		n := min(p.left, len(p.buf))
		if _, err := io.ReadFull(p.r, p.buf[:n]); err != nil {
			return piece{}, fmt.Errorf("read watch event: %w", io.ErrUnexpectedEOF)
		}
		p.left -= n
		return piece{b: p.buf[:n], end: p.left == 0}, nil
	}
	if _, err := io.ReadFull(p.r, p.buf[:4]); err != nil {
		if err == io.EOF {
			return piece{}, io.EOF
		}
		return piece{}, fmt.Errorf("read watch event: %w", err)
	}
	size := int(binary.BigEndian.Uint32(p.buf[:4]))
	n := min(size, len(p.buf)-4)
	if _, err := io.ReadFull(p.r, p.buf[4:4+n]); err != nil {
		return piece{}, fmt.Errorf("read watch event: %w", io.ErrUnexpectedEOF)
	}
	if n == size {
		info, err := protoEventInfo(p.buf[4 : 4+n])
		if err != nil {
			return piece{}, err
		}
		return piece{b: p.buf[:4+n], start: true, end: true, info: info}, nil
	}
	p.left = size - n
	return piece{b: p.buf[:4+n], start: true, info: partialProtoInfo(p.buf[4 : 4+n])}, nil
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

// partialJSONInfo reads the type and object.metadata.resourceVersion of a
// JSON watch event from its first piece (ObjectMeta puts resourceVersion
// before labels, annotations and managedFields, so it is near the start).
func partialJSONInfo(b []byte) eventInfo {
	type level struct {
		obj     bool
		key     string
		wantKey bool
	}
	var info eventInfo
	var stack []level
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err != nil {
			return info
		}
		top := len(stack) - 1
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, level{obj: true, wantKey: true})
			case '[':
				stack = append(stack, level{})
			default:
				stack = stack[:top]
				if top > 0 && stack[top-1].obj {
					stack[top-1].wantKey = true
				}
			}
			continue
		}
		if top >= 0 && stack[top].obj && stack[top].wantKey {
			stack[top].key, _ = tok.(string)
			stack[top].wantKey = false
			continue
		}
		s, _ := tok.(string)
		switch {
		case len(stack) == 1 && stack[0].key == "type":
			info.typ = s
		case len(stack) == 3 && stack[0].key == "object" && stack[1].key == "metadata" && stack[2].key == "resourceVersion":
			if info.typ != watchError {
				info.rv = s
			}
			return info
		}
		if top >= 0 && stack[top].obj {
			stack[top].wantKey = true
		}
	}
}

// partialProtoInfo reads the type and the object's resourceVersion of a
// protobuf watch event from its first piece.
func partialProtoInfo(b []byte) eventInfo {
	var info eventInfo
	if typ, whole := prefixField(b, 1); whole {
		info.typ = string(typ)
	}
	if info.typ == watchError {
		return info
	}
	obj, _ := prefixField(b, 2)
	raw, _ := prefixField(obj, 1)
	unknown, ok := bytes.CutPrefix(raw, protobufMagic)
	if !ok {
		return info
	}
	inner, _ := prefixField(unknown, 2)
	meta, _ := prefixField(inner, 1)
	if rv, whole := prefixField(meta, 6); whole {
		info.rv = string(rv)
	}
	return info
}

// prefixField returns the first length-delimited field num of a protobuf
// message of which b may be only the start, and whether it is whole; nil
// when b ends before it.
func prefixField(b []byte, num protowire.Number) ([]byte, bool) {
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return nil, false
		}
		b = b[l:]
		if typ != protowire.BytesType {
			m := protowire.ConsumeFieldValue(n, typ, b)
			if m < 0 {
				return nil, false
			}
			b = b[m:]
			continue
		}
		size, m := protowire.ConsumeVarint(b)
		if m < 0 {
			return nil, false
		}
		b = b[m:]
		if uint64(len(b)) < size {
			if n == num {
				return b, false
			}
			return nil, false
		}
		if n == num {
			return b[:size], true
		}
		b = b[size:]
	}
	return nil, false
}
