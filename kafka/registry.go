package kafka

// The handler table. Every API key chronik serves registers itself, with its
// version range, from an init function in its own file (00_produce.go,
// 01_fetch.go, ...). ApiVersions answers from this table, and requests are
// checked against it before their handler runs.

import (
	"context"
	"fmt"
	"reflect"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handlerFunc answers one request. A nil response with a nil error means no
// response is written (Produce with acks=0). A non-nil error closes the
// connection after a log line; handlers use it only for protocol violations
// (kfake's rule), and put every other failure into the response's error codes.
type handlerFunc func(s *Server, ctx context.Context, r *request) (kmsg.Response, error)

// startFunc is the first phase of a pipelined handler (Produce): it does
// what must happen in request order (proposing batches) and returns the
// second phase, which waits for the outcome and builds the response as a
// handlerFunc would. The connection runs the second phases of several
// requests while it reads the next ones, and writes their responses in order.
type startFunc func(s *Server, ctx context.Context, r *request) (finish func() (kmsg.Response, error))

type handlerEntry struct {
	key, min, max int16
	handle        handlerFunc
	start         startFunc
}

var handlers = map[int16]handlerEntry{}

// regKey registers the handler of an API key and the versions it serves. It
// panics on a duplicate or invalid registration: both are programming errors
// caught by any test.
func regKey(key, min, max int16, h handlerFunc) {
	register(handlerEntry{key: key, min: min, max: max, handle: h})
}

// regKeyPipelined registers a two-phase handler (see startFunc).
func regKeyPipelined(key, min, max int16, start startFunc) {
	register(handlerEntry{key: key, min: min, max: max, start: start})
}

func register(h handlerEntry) {
	if h.key < 0 || h.min < 0 || h.max < h.min || (h.handle == nil) == (h.start == nil) {
		panic(fmt.Sprintf("kafka: invalid registration of key %d: versions %d-%d", h.key, h.min, h.max))
	}
	if _, ok := handlers[h.key]; ok {
		panic(fmt.Sprintf("kafka: key %d registered twice", h.key))
	}
	if k := kmsg.RequestForKey(h.key); k == nil || k.MaxVersion() < h.max {
		panic(fmt.Sprintf("kafka: key %d v%d is beyond what kmsg encodes", h.key, h.max))
	}
	handlers[h.key] = h
}

// registeredKeys returns the table sorted by key, as ApiVersions lists it.
func registeredKeys() []handlerEntry {
	out := make([]handlerEntry, 0, len(handlers))
	for _, h := range handlers {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// apiVersionsMax is the newest ApiVersions version served.
func apiVersionsMax() int16 { return handlers[18].max }

// pipelined reports whether r is handled in two phases (startFunc), so the
// connection may read on while it completes.
func pipelined(r *request) bool {
	h, ok := handlers[r.key]
	return ok && h.start != nil && r.version >= h.min && r.version <= h.max
}

// dispatch runs the handler of r, or answers UNSUPPORTED_VERSION for a key or
// version outside the table. For a pipelined handler it runs the first phase
// and returns the second; otherwise it runs the handler and returns its
// result. Panics in either phase become errors that close the connection.
func (s *Server) dispatch(ctx context.Context, r *request) (finish func() (kmsg.Response, error)) {
	defer func() {
		if p := recover(); p != nil {
			err := fmt.Errorf("kafka: %s v%d handler panicked: %v", kmsg.NameForKey(r.key), r.version, p)
			finish = func() (kmsg.Response, error) { return nil, err }
		}
	}()
	done := func(resp kmsg.Response, err error) func() (kmsg.Response, error) {
		return func() (kmsg.Response, error) { return resp, err }
	}
	h, ok := handlers[r.key]
	if r.key == 18 {
		// ApiVersions checks its own version (the v0 fallback).
		return done(h.handle(s, ctx, r))
	}
	if !ok || r.version < h.min || r.version > h.max {
		return done(unsupportedResponse(r.kreq), nil)
	}
	if h.start != nil {
		f := h.start(s, ctx, r)
		return func() (resp kmsg.Response, err error) {
			defer func() {
				if p := recover(); p != nil {
					resp, err = nil, fmt.Errorf("kafka: %s v%d handler panicked: %v", kmsg.NameForKey(r.key), r.version, p)
				}
			}()
			return f()
		}
	}
	return done(h.handle(s, ctx, r))
}

// unsupportedResponse answers a request for a key or version chronik does not
// serve: the response kind at the request's version, with every top-level
// ErrorCode field set to UNSUPPORTED_VERSION. Clients negotiate versions with
// ApiVersions first, so they only see this when they ignore it.
func unsupportedResponse(req kmsg.Request) kmsg.Response {
	return errorResponse(req, kerr.UnsupportedVersion.Code)
}

// errorResponse is the response kind of req at its version with every
// top-level ErrorCode field set to code: for a request refused as a whole.
func errorResponse(req kmsg.Request, code int16) kmsg.Response {
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if d, ok := resp.(interface{ Default() }); ok {
		d.Default()
		resp.SetVersion(req.GetVersion())
	}
	v := reflect.ValueOf(resp).Elem()
	if f := v.FieldByName("ErrorCode"); f.IsValid() && f.Kind() == reflect.Int16 && f.CanSet() {
		f.SetInt(int64(code))
	}
	return resp
}
