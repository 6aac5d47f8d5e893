package kafka

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// errCloseConn asks the connection loop to close the connection without a
// response, as Kafka does when an acks=0 produce fails (the client notices the
// closed connection and refreshes its metadata).
var errCloseConn = errors.New("kafka: closing connection")

// writeTimeout bounds writing one response: a client that stops reading is
// disconnected rather than holding its goroutine (and Close) forever.
const writeTimeout = time.Minute

// conn is one client connection: a reader goroutine (serve) that decodes
// and dispatches requests, and a writer goroutine that answers them in
// order.
type conn struct {
	s   *Server
	nc  net.Conn
	log *slog.Logger

	// stop ends a wait for request bytes (Server.reqBytes): closed by
	// stopReading (also on Server.Close) and markDead.
	stop     chan struct{}
	stopOnce sync.Once

	mu      sync.Mutex
	stopped bool // set by stopReading: no more requests are read
	dead    bool // set by the writer after a failure: the socket is closed

	inflightBytes atomic.Int64 // frame bytes of queued, unanswered requests
	host          string       // peer address as Kafka shows it: "/127.0.0.1"

	// listener is the name of the listener the connection came in on;
	// broker addresses in responses are that listener's.
	listener string
	// protocol is that listener's security protocol.
	protocol SecurityProtocol
	// tls is the server TLS configuration of an SSL or SASL_SSL
	// connection, whose handshake serve runs first; nil otherwise.
	tls *tls.Config
	// principal is the authenticated identity, "User:ANONYMOUS" until a
	// client certificate (SSL) or SASL names another. Written by the
	// reader goroutine before it dispatches requests.
	principal string
	// sasl is the SASL authentication state (sasl.go).
	sasl saslState
}

func newConn(s *Server, nc net.Conn, l Listener) *conn {
	c := &conn{s: s, nc: nc, log: s.log.With("remote", nc.RemoteAddr().String()), stop: make(chan struct{}),
		listener: l.Name, protocol: l.Protocol, principal: AnonymousPrincipal}
	if l.Protocol.TLS() {
		c.tls = l.TLS
		c.nc = tls.Server(nc, l.TLS) // the handshake runs in serve
	}
	c.host = "/" + nc.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(nc.RemoteAddr().String()); err == nil {
		c.host = "/" + host
	}
	return c
}

// stopReading makes the connection finish its in-flight request, if any,
// and then close instead of reading the next one.
func (c *conn) stopReading() {
	c.mu.Lock()
	c.stopped = true
	c.nc.SetReadDeadline(time.Now())
	c.mu.Unlock()
	c.stopOnce.Do(func() { close(c.stop) })
}

// armRead sets the idle deadline for the next read; it reports false once
// stopReading was called.
func (c *conn) armRead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return false
	}
	if c.s.cfg.IdleTimeout > 0 {
		c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
	} else {
		c.nc.SetReadDeadline(time.Time{})
	}
	return true
}

// maxPipelined bounds the requests of one connection that are read but not
// yet answered, and maxPipelinedBytes their frames' total size (a request
// that would exceed it waits until the earlier ones are answered).
const (
	maxPipelined      = 16
	maxPipelinedBytes = 64 << 20
)

// inflight is a request whose response the writer still has to produce.
type inflight struct {
	r      *request
	finish func() (kmsg.Response, error)
	read   time.Time // the request's frame was read
	start  time.Time // its handling started
}

// serve reads requests until the client goes away, a frame is bad, or the
// server closes. Produce requests are pipelined (their batches are proposed
// at once and answered later, see startFunc); any other request first waits
// until every earlier one is answered, then runs here. A writer goroutine
// answers in request order.
func (c *conn) serve() {
	defer c.nc.Close()
	if c.tls != nil && !c.handshake() {
		return
	}
	if h := c.s.connHook; h != nil {
		h(c)
	}
	queue := make(chan inflight, maxPipelined)
	var pending sync.WaitGroup // queued, not yet answered
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.write(queue, &pending)
	}()
	defer func() {
		// Answer what is in flight, then close.
		close(queue)
		<-writerDone
	}()

	br := bufio.NewReaderSize(c.nc, readBufferSize)
	for {
		if !c.armRead() {
			return
		}
		if c.sasl.raw {
			// Bare SASL tokens after a SaslHandshake v0: answered
			// here once the handshake's response is written.
			pending.Wait()
			if c.isDead() || !c.rawSASLStep(br) {
				return
			}
			continue
		}
		frame, err := c.readRequestFrame(br)
		if err != nil {
			c.readFailed(err)
			return
		}
		// From here on the frame holds len(frame) bytes of the server's
		// request budget, given back once it is answered or dropped.
		r, err := decodeRequest(frame)
		if err != nil {
			c.s.reqBytes.release(int64(len(frame)))
			c.s.badLogs.warn(c.log, "closing connection: undecodable request", "err", err, "bytes", len(frame))
			return
		}
		r.clientHost = c.host
		r.listener = c.listener
		r.conn = c
		if err := c.saslGate(r); err != nil {
			c.s.reqBytes.release(int64(len(frame)))
			c.s.badLogs.warn(c.log, "closing connection: not authenticated", "err", err, "api", kmsg.NameForKey(r.key), "client_id", r.clientID)
			return
		}
		if f := c.s.cfg.principalFor; f != nil {
			c.principal = f(c.nc, r.clientID)
		}
		r.principal = c.principal
		read := time.Now()
		if !pipelined(r) || c.inflightBytes.Load()+int64(len(frame)) > maxPipelinedBytes {
			pending.Wait()
		}
		if c.isDead() {
			c.s.reqBytes.release(int64(r.size))
			return
		}
		start := time.Now()
		finish := c.s.dispatch(c.s.ctx, r)
		pending.Add(1)
		c.inflightBytes.Add(int64(r.size))
		queue <- inflight{r: r, finish: finish, read: read, start: start}
	}
}

// readBufferSize is each connection's read buffer: small, since it stays
// allocated while the connection is idle; larger frames are read past it
// straight into their own buffer.
const readBufferSize = 16 << 10

// maxRetainedWriteBuffer is the largest response buffer a connection keeps
// for its next response; a larger one (a big fetch) is dropped once written.
const maxRetainedWriteBuffer = 256 << 10

// readRequestFrame reads one frame's length, takes that many bytes from the
// server's request budget (waiting while it is spent, without reading, so
// the client is pushed back) and reads the frame. On success the caller
// owns len(frame) bytes of the budget; on failure nothing is held.
func (c *conn) readRequestFrame(br *bufio.Reader) ([]byte, error) {
	limit := c.s.cfg.MaxFrameBytes
	if q := c.s.cfg.QueuedMaxRequestBytes; q < int64(limit) {
		limit = int32(q)
	}
	n, err := readFrameSize(br, limit)
	if err != nil {
		return nil, err
	}
	if err := c.acquire(int64(n)); err != nil {
		return nil, err
	}
	// The wait may have outlasted the idle deadline armed for the length.
	if !c.armRead() {
		c.s.reqBytes.release(int64(n))
		return nil, net.ErrClosed
	}
	frame, err := readFrameBody(br, n)
	if err != nil {
		c.s.reqBytes.release(int64(n))
		return nil, err
	}
	return frame, nil
}

// acquire takes n bytes of the server's request budget, waiting until they
// are free or the connection is stopped.
func (c *conn) acquire(n int64) error {
	if err := c.s.reqBytes.acquire(c.stop, n); err != nil {
		return fmt.Errorf("kafka: waiting for %d request bytes: %w: %w", n, err, net.ErrClosed)
	}
	return nil
}

// write answers queued requests in order. After a failure it closes the
// socket (which stops the reader) and discards the rest.
func (c *conn) write(queue <-chan inflight, pending *sync.WaitGroup) {
	var out []byte
	dead := false
	for it := range queue {
		if dead {
			c.inflightBytes.Add(-int64(it.r.size))
			c.s.reqBytes.release(int64(it.r.size))
			pending.Done()
			continue
		}
		resp, err := it.finish()
		r := it.r
		ready := time.Now()
		switch {
		case errors.Is(err, errCloseConn):
			c.log.Debug("closing connection after failed acks=0 produce", "client_id", r.clientID)
			dead = true
		case err != nil:
			c.s.badLogs.warn(c.log, "closing connection", "err", err, "api", kmsg.NameForKey(r.key), "version", r.version, "client_id", r.clientID)
			dead = true
		case resp == nil: // acks=0
		default:
			out = appendResponse(out[:0], r.corr, resp)
			c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
			if _, err := c.nc.Write(out); err != nil {
				c.log.Debug("write failed; closing connection", "err", err)
				dead = true
			}
			if cap(out) > maxRetainedWriteBuffer {
				out = nil // do not pin a large fetch response's buffer
			}
		}
		if h := c.s.cfg.RequestHook; h != nil {
			info := RequestInfo{APIKey: r.key, Version: r.version, Err: err,
				Queue: it.start.Sub(it.read), Handle: ready.Sub(it.start), Send: time.Since(ready)}
			if resp != nil {
				info.ErrCode = responseErrorCode(resp)
			}
			h.OnRequest(info)
		}
		if dead {
			c.markDead()
		}
		c.inflightBytes.Add(-int64(r.size))
		c.s.reqBytes.release(int64(r.size))
		pending.Done()
	}
}

// markDead closes the socket after a write-side failure, stopping the reader.
func (c *conn) markDead() {
	c.mu.Lock()
	c.dead = true
	c.mu.Unlock()
	c.stopOnce.Do(func() { close(c.stop) })
	c.nc.Close()
}

func (c *conn) isDead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead
}

func (c *conn) readFailed(err error) {
	switch {
	case errors.Is(err, errFrameTooLarge), errors.Is(err, errBadFrame):
		c.s.badLogs.warn(c.log, "closing connection: bad request frame", "err", err)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), c.isDead():
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.mu.Lock()
		stopped := c.stopped
		c.mu.Unlock()
		if !stopped {
			c.log.Debug("closing idle connection", "idle", c.s.cfg.IdleTimeout)
		}
	default:
		c.log.Debug("read failed; closing connection", "err", err)
	}
}
