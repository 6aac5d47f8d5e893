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

type handlerEntry struct {
	key, min, max int16
	handle        handlerFunc
}

var handlers = map[int16]handlerEntry{}

// regKey registers the handler of an API key and the versions it serves. It
// panics on a duplicate or invalid registration: both are programming errors
// caught by any test.
func regKey(key, min, max int16, h handlerFunc) {
	if key < 0 || min < 0 || max < min || h == nil {
		panic(fmt.Sprintf("kafka: invalid registration of key %d: versions %d-%d", key, min, max))
	}
	if _, ok := handlers[key]; ok {
		panic(fmt.Sprintf("kafka: key %d registered twice", key))
	}
	if k := kmsg.RequestForKey(key); k == nil || k.MaxVersion() < max {
		panic(fmt.Sprintf("kafka: key %d v%d is beyond what kmsg encodes", key, max))
	}
	handlers[key] = handlerEntry{key: key, min: min, max: max, handle: h}
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

// dispatch runs the handler of r, or answers UNSUPPORTED_VERSION for a key or
// version outside the table.
func (s *Server) dispatch(ctx context.Context, r *request) (resp kmsg.Response, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, fmt.Errorf("kafka: %s v%d handler panicked: %v", kmsg.NameForKey(r.key), r.version, p)
		}
	}()
	h, ok := handlers[r.key]
	if r.key == 18 {
		// ApiVersions checks its own version (the v0 fallback).
		return h.handle(s, ctx, r)
	}
	if !ok || r.version < h.min || r.version > h.max {
		return unsupportedResponse(r.kreq), nil
	}
	return h.handle(s, ctx, r)
}

// unsupportedResponse answers a request for a key or version chronik does not
// serve: the response kind at the request's version, with every top-level
// ErrorCode field set to UNSUPPORTED_VERSION. Clients negotiate versions with
// ApiVersions first, so they only see this when they ignore it.
func unsupportedResponse(req kmsg.Request) kmsg.Response {
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if d, ok := resp.(interface{ Default() }); ok {
		d.Default()
		resp.SetVersion(req.GetVersion())
	}
	v := reflect.ValueOf(resp).Elem()
	if f := v.FieldByName("ErrorCode"); f.IsValid() && f.Kind() == reflect.Int16 && f.CanSet() {
		f.SetInt(int64(kerr.UnsupportedVersion.Code))
	}
	return resp
}
