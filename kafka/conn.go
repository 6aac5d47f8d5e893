package kafka

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
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

// conn is one client connection, served by one goroutine: read a frame,
// decode, handle, write the response, repeat. Requests the client pipelines
// wait in the socket buffer and are answered in order.
type conn struct {
	s   *Server
	nc  net.Conn
	log *slog.Logger

	mu      sync.Mutex
	stopped bool // set by stopReading: no more requests are read
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{s: s, nc: nc, log: s.log.With("remote", nc.RemoteAddr().String())}
}

// stopReading makes the connection finish its in-flight request, if any,
// and then close instead of reading the next one.
func (c *conn) stopReading() {
	c.mu.Lock()
	c.stopped = true
	c.nc.SetReadDeadline(time.Now())
	c.mu.Unlock()
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

func (c *conn) serve() {
	defer c.nc.Close()
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var out []byte
	for {
		if !c.armRead() {
			return
		}
		frame, err := readFrame(br, c.s.cfg.MaxFrameBytes)
		if err != nil {
			c.readFailed(err)
			return
		}
		r, err := decodeRequest(frame)
		if err != nil {
			c.log.Warn("closing connection: undecodable request", "err", err, "bytes", len(frame))
			return
		}
		resp, err := c.s.dispatch(c.s.ctx, r)
		if errors.Is(err, errCloseConn) {
			c.log.Debug("closing connection after failed acks=0 produce", "client_id", r.clientID)
			return
		}
		if err != nil {
			c.log.Warn("closing connection", "err", err, "api", kmsg.NameForKey(r.key), "version", r.version, "client_id", r.clientID)
			return
		}
		if resp == nil {
			continue // acks=0
		}
		out = appendResponse(out[:0], r.corr, resp)
		c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := c.nc.Write(out); err != nil {
			c.log.Debug("write failed; closing connection", "err", err)
			return
		}
		if cap(out) > 4<<20 {
			out = nil // do not pin a large fetch response's buffer
		}
	}
}

func (c *conn) readFailed(err error) {
	switch {
	case errors.Is(err, errFrameTooLarge), errors.Is(err, errBadFrame):
		c.log.Warn("closing connection: bad request frame", "err", err)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
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
