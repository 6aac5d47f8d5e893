package kafka

// The inter-broker client: requests this broker sends to other brokers'
// Kafka listeners, today WriteTxnMarkers (txn_marker_writer.go). It is a
// small client over kmsg (the broker does not use kgo):
//
//   - One TCP connection per broker, dialled on first use and kept. Its
//     requests run one at a time: the server answers a connection's
//     non-produce requests one at a time anyway (conn.go).
//   - On connecting it asks ApiVersions, and each request goes at the newest
//     version both this broker and the peer serve.
//   - Requests carry client id "chronik-broker" and increasing correlation
//     ids, which responses must echo.
//   - A request is bounded by its ctx (peerRequestTimeout without a
//     deadline), applied to the socket as read and write deadlines, and
//     interrupted when ctx is cancelled.
//   - Any failure (dial, I/O, deadline, cancellation, a response that does
//     not decode or echoes another correlation id) closes the connection;
//     the next request dials again. A broker whose address changed is
//     dialled at the new one.
//   - Close (from Server.Close) interrupts requests in flight and closes
//     every connection; later requests fail with errPeersClosed.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	// peerClientID is the client id of inter-broker requests.
	peerClientID = "chronik-broker"
	// peerDialTimeout bounds a dial (also within a longer request ctx).
	peerDialTimeout = 5 * time.Second
	// peerRequestTimeout bounds a request whose ctx has no deadline.
	peerRequestTimeout = 30 * time.Second
	// peerMaxResponseBytes is the largest response frame accepted.
	peerMaxResponseBytes = 64 << 20
)

// errPeersClosed: a request to another broker after, or interrupted by,
// Server.Close.
var errPeersClosed = errors.New("kafka: inter-broker client closed")

// peers holds the connections to other brokers. Safe for concurrent use.
type peers struct {
	fmt *kmsg.RequestFormatter
	// ctx is cancelled by Close; requests in flight are interrupted.
	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	conns map[uint64]*peerConn
}

// peerConn is the connection to one broker.
type peerConn struct {
	// slot is held (one element sent) by the request using the connection;
	// the fields below belong to its holder.
	slot chan struct{}

	addr     string
	nc       net.Conn // nil: not connected
	corr     int32
	versions map[int16][2]int16 // API key -> min, max version the peer serves
	buf      []byte
}

func newPeers() *peers {
	ctx, cancel := context.WithCancel(context.Background())
	return &peers{fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID(peerClientID)),
		ctx: ctx, cancel: cancel, conns: map[uint64]*peerConn{}}
}

// Close interrupts requests in flight and closes every connection. It is
// safe to call more than once.
func (ps *peers) Close() {
	ps.cancel()
	ps.mu.Lock()
	conns := make([]*peerConn, 0, len(ps.conns))
	for _, pc := range ps.conns {
		conns = append(conns, pc)
	}
	ps.mu.Unlock()
	for _, pc := range conns {
		pc.slot <- struct{}{} // the holder, if any, is being interrupted
		pc.close()
		<-pc.slot
	}
}

func (ps *peers) conn(broker uint64) *peerConn {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	pc := ps.conns[broker]
	if pc == nil {
		pc = &peerConn{slot: make(chan struct{}, 1)}
		ps.conns[broker] = pc
	}
	return pc
}

// request sends req to broker, listening at addr, at the newest version
// that both the peer and this broker (up to maxVersion) serve, and returns
// the response. Errors carry the broker and what failed; errPeersClosed
// after Close, ctx's error when it ends first.
func (ps *peers) request(ctx context.Context, broker uint64, addr string, req kmsg.Request, maxVersion int16) (kmsg.Response, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, peerRequestTimeout)
		defer cancel()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer context.AfterFunc(ps.ctx, func() { cancel(errPeersClosed) })()

	pc := ps.conn(broker)
	select {
	case pc.slot <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("kafka: broker %d: waiting for its connection: %w", broker, context.Cause(ctx))
	}
	defer func() { <-pc.slot }()
	if ctx.Err() != nil { // Close may have closed the connection already
		return nil, fmt.Errorf("kafka: broker %d: %w", broker, context.Cause(ctx))
	}
	resp, err := pc.roundTrip(ctx, ps.fmt, addr, req, maxVersion)
	if err != nil {
		pc.close()
		cause := context.Cause(ctx)
		if cause == nil && errors.Is(err, os.ErrDeadlineExceeded) {
			cause = context.DeadlineExceeded // the socket's deadline is ctx's; its timer may not have fired yet
		}
		if cause != nil {
			err = fmt.Errorf("%w (%w)", cause, err)
		}
		return nil, fmt.Errorf("kafka: %s to broker %d at %s: %w", kmsg.NameForKey(req.Key()), broker, addr, err)
	}
	return resp, nil
}

// close drops the connection; the slot is held.
func (pc *peerConn) close() {
	if pc.nc != nil {
		pc.nc.Close()
		pc.nc, pc.versions = nil, nil
	}
}

// roundTrip connects if needed, picks the version and exchanges req; the
// slot is held.
func (pc *peerConn) roundTrip(ctx context.Context, f *kmsg.RequestFormatter, addr string, req kmsg.Request, maxVersion int16) (kmsg.Response, error) {
	if pc.nc != nil && pc.addr != addr {
		pc.close() // the broker moved
	}
	if pc.nc == nil {
		if err := pc.connect(ctx, f, addr); err != nil {
			pc.close()
			return nil, err
		}
	}
	vr, ok := pc.versions[req.Key()]
	v := min(maxVersion, vr[1])
	if !ok || v < vr[0] {
		return nil, fmt.Errorf("the broker serves no version of %s up to v%d", kmsg.NameForKey(req.Key()), maxVersion)
	}
	req.SetVersion(v)
	return pc.exchange(ctx, f, req)
}

// connect dials addr and learns the peer's versions.
func (pc *peerConn) connect(ctx context.Context, f *kmsg.RequestFormatter, addr string) error {
	d := net.Dialer{Timeout: peerDialTimeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	pc.nc, pc.addr = nc, addr
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 3
	av.ClientSoftwareName, av.ClientSoftwareVersion = peerClientID, "1"
	resp, err := pc.exchange(ctx, f, av)
	if err != nil {
		return fmt.Errorf("ApiVersions: %w", err)
	}
	r := resp.(*kmsg.ApiVersionsResponse)
	if r.ErrorCode != 0 {
		return fmt.Errorf("ApiVersions: %w", kerr.ErrorForCode(r.ErrorCode))
	}
	pc.versions = make(map[int16][2]int16, len(r.ApiKeys))
	for _, k := range r.ApiKeys {
		pc.versions[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	return nil
}

// exchange writes req at its version and reads its response, within ctx.
func (pc *peerConn) exchange(ctx context.Context, f *kmsg.RequestFormatter, req kmsg.Request) (kmsg.Response, error) {
	nc := pc.nc
	dl, _ := ctx.Deadline()
	if err := nc.SetDeadline(dl); err != nil {
		return nil, err
	}
	// Cancellation unblocks the socket through a deadline in the past; done
	// keeps a late one from touching the next request's deadline.
	var mu sync.Mutex
	done := false
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			nc.SetDeadline(time.Unix(1, 0))
		}
	})
	defer func() {
		stop()
		mu.Lock()
		done = true
		mu.Unlock()
	}()

	pc.corr++
	pc.buf = f.AppendRequest(pc.buf[:0], req, pc.corr)
	if _, err := nc.Write(pc.buf); err != nil {
		return nil, fmt.Errorf("write request: %w", err)
	}
	body, err := readResponseFrame(nc)
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	rd := kbin.Reader{Src: body}
	if corr := rd.Int32(); corr != pc.corr {
		return nil, fmt.Errorf("response has correlation id %d, want %d", corr, pc.corr)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && resp.Key() != 18 { // ApiVersions answers with header v0
		kmsg.SkipTags(&rd)
	}
	if err := resp.ReadFrom(rd.Src); err != nil {
		return nil, fmt.Errorf("decode %s v%d response: %w", kmsg.NameForKey(resp.Key()), resp.GetVersion(), err)
	}
	return resp, nil
}

// readResponseFrame reads one length-prefixed response: at least its
// correlation id, at most peerMaxResponseBytes.
func readResponseFrame(r io.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 4 || n > peerMaxResponseBytes {
		return nil, fmt.Errorf("response frame of %d bytes (4 to %d)", n, peerMaxResponseBytes)
	}
	return readFrameBody(r, n)
}
