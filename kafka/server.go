package kafka

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/coordinator"
	"github.com/chronik-io/chronik/engine"
)

// DefaultMaxFrameBytes is the default largest request a connection may send:
// 100 MiB, Kafka's socket.request.max.bytes.
const DefaultMaxFrameBytes = 100 << 20

// DefaultMaxConnections is the default bound on open client connections
// (max.connections). Kafka's default is unbounded; chronik bounds it so a
// connection flood runs into a limit before file descriptors run out.
const DefaultMaxConnections = 10000

// DefaultQueuedMaxRequestBytes is the default budget of request bytes
// buffered across all connections (queued.max.request.bytes): 256 MiB.
// Kafka's default is unbounded.
const DefaultQueuedMaxRequestBytes = 256 << 20

// Config configures a Server. The zero value is usable: every field notes its
// default.
type Config struct {
	// MaxFrameBytes is the largest request accepted, in bytes, counting
	// everything after the 4-byte length prefix. A larger frame closes that
	// connection (with a log line); other connections are unaffected.
	// Default DefaultMaxFrameBytes (100 MiB, socket.request.max.bytes).
	MaxFrameBytes int32
	// MaxConnections bounds the open client connections, as Kafka's
	// max.connections: a connection accepted beyond it is closed at once
	// (and counted, see ConnectionsRejected). Default
	// DefaultMaxConnections (10000).
	MaxConnections int
	// QueuedMaxRequestBytes bounds the bytes of requests read but not yet
	// answered, across all connections, as Kafka's
	// queued.max.request.bytes. A connection takes a frame's declared size
	// from this budget before reading the frame and gives it back once the
	// response is written; while the budget is spent, connections stop
	// reading (backpressure, not an error). A frame larger than the whole
	// budget closes its connection, as one over MaxFrameBytes does.
	// Default DefaultQueuedMaxRequestBytes (256 MiB).
	QueuedMaxRequestBytes int64
	// AutoCreateTopics creates unknown topics on Metadata (when the client
	// allows it) and on Produce. Default false; the CLI defaults it to true.
	AutoCreateTopics bool
	// DefaultPartitions is the partition count of auto-created topics and of
	// CreateTopics requests that ask for the default (-1). 0 = engine default.
	DefaultPartitions int32
	// Logger receives connection and request logs. nil = discard.
	Logger *slog.Logger
	// MaxFetchWait caps a Fetch request's MaxWaitMillis, so a client cannot
	// park a connection for longer than this. Default 30s.
	MaxFetchWait time.Duration
	// IdleTimeout closes a connection that sends nothing for this long, as
	// Kafka's connections.max.idle.ms. Default 10 minutes; negative disables.
	IdleTimeout time.Duration
	// RequestHook, if set, is told about every answered request (metrics).
	RequestHook HookRequest
	// Groups configures the group coordinator (consumer groups and
	// committed offsets in __consumer_offsets); see GroupConfig.
	Groups GroupConfig
	// Txns configures the transaction coordinator (transaction state in
	// __transaction_state); see TxnConfig.
	Txns TxnConfig
	// HTTPAddr is the host:port of this broker's HTTP endpoints (health,
	// metrics, /v1/partitions), reported by DescribeConfigs as the broker
	// config chronik.http.addr; "" = none.
	HTTPAddr string
	// LogDir is the directory DescribeLogDirs reports as this broker's one
	// log directory (chronik start sets its --data-dir). Default "data".
	LogDir string
	// Authz configures authorization with ACLs; see AuthzConfig. Default
	// off.
	Authz AuthzConfig

	// principalFor, if set, names each request's principal from its
	// connection and client id, overriding authentication: a test hook,
	// for connections with different principals without SASL or TLS.
	principalFor func(nc net.Conn, clientID string) string
	// SASL configures SASL authentication (PLAIN, SCRAM-SHA-256/512);
	// see SASLConfig. Default disabled.
	SASL SASLConfig
}

// HookRequest observes requests, once each is answered (its response
// written, or the connection closed instead). It must be fast and safe for
// concurrent use: it runs on each connection's writer goroutine.
type HookRequest interface {
	OnRequest(RequestInfo)
}

// RequestInfo describes one answered request. The three phases add up to
// the time from reading the request to having written its response.
type RequestInfo struct {
	APIKey, Version int16
	// Queue is the wait before handling started: behind the connection's
	// earlier requests, which are answered in order.
	Queue time.Duration
	// Handle runs from the start of handling to the response being ready
	// (a produce's Raft commit included).
	Handle time.Duration
	// Send is the time to write the response to the socket.
	Send time.Duration
	// ErrCode is the Kafka error the response carries: 0 for none; the
	// top-level code, else the first per-partition one, for Produce,
	// Fetch, ListOffsets, offset and group APIs; 0 for other APIs.
	ErrCode int16
	// Err is the error that closed the connection instead of answering.
	Err error
}

// Total is the time from reading the request to having answered it.
func (i RequestInfo) Total() time.Duration { return i.Queue + i.Handle + i.Send }

func (c *Config) setDefaults() {
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.QueuedMaxRequestBytes == 0 {
		c.QueuedMaxRequestBytes = DefaultQueuedMaxRequestBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.MaxFetchWait == 0 {
		c.MaxFetchWait = 30 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 10 * time.Minute
	}
	if c.LogDir == "" {
		c.LogDir = "data"
	}
	c.SASL.setDefaults()
}

// Validate reports every invalid field.
func (c Config) Validate() error {
	var errs []error
	if c.MaxFrameBytes < 0 {
		errs = append(errs, fmt.Errorf("kafka: MaxFrameBytes (%d) must be >= 0", c.MaxFrameBytes))
	} else if c.MaxFrameBytes != 0 && c.MaxFrameBytes < 1024 {
		errs = append(errs, fmt.Errorf("kafka: MaxFrameBytes (%d) must be at least 1024", c.MaxFrameBytes))
	}
	if c.MaxConnections < 0 {
		errs = append(errs, fmt.Errorf("kafka: MaxConnections (%d) must be >= 0", c.MaxConnections))
	}
	if c.QueuedMaxRequestBytes < 0 {
		errs = append(errs, fmt.Errorf("kafka: QueuedMaxRequestBytes (%d) must be >= 0", c.QueuedMaxRequestBytes))
	} else if c.QueuedMaxRequestBytes != 0 && c.QueuedMaxRequestBytes < 1024 {
		errs = append(errs, fmt.Errorf("kafka: QueuedMaxRequestBytes (%d) must be at least 1024", c.QueuedMaxRequestBytes))
	}
	if c.DefaultPartitions < 0 {
		errs = append(errs, fmt.Errorf("kafka: DefaultPartitions (%d) must be >= 0", c.DefaultPartitions))
	}
	if c.MaxFetchWait < 0 {
		errs = append(errs, fmt.Errorf("kafka: MaxFetchWait (%s) must be >= 0", c.MaxFetchWait))
	}
	if err := c.Groups.Validate(); err != nil {
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			errs = append(errs, fmt.Errorf("kafka: Groups: %w", e))
		}
	}
	if err := c.Authz.Validate(); err != nil {
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			errs = append(errs, fmt.Errorf("kafka: Authz: %w", e))
		}
	}
	if err := c.SASL.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Txns.Validate(); err != nil {
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			errs = append(errs, fmt.Errorf("kafka: Txns: %w", e))
		}
	}
	return errors.Join(errs...)
}

// Server is a Kafka wire-protocol server over one engine. Each accepted
// connection gets one goroutine that reads a request, handles it and writes
// its response before reading the next, so pipelined requests are answered in
// order. Safe for concurrent use.
type Server struct {
	be     backend
	cfg    Config
	log    *slog.Logger
	groups *coordinator.Coordinator
	txns   *coordinator.TxnCoordinator
	// peers sends requests to other brokers (WriteTxnMarkers).
	peers *peers
	// shares holds the share partitions this broker leads and the share
	// sessions of their members (share.go).
	shares *shareManager
	authz  *acl.Authorizer // Config.Authz's super users and default
	// badLogs rate-limits the WARN lines about bad clients.
	badLogs *logLimiter
	// reqBytes is the budget of buffered request bytes
	// (Config.QueuedMaxRequestBytes).
	reqBytes *byteSem
	// rejected counts connections closed for exceeding MaxConnections.
	rejected atomic.Int64
	// accepted counts connections accepted and served.
	accepted atomic.Int64
	// connHook, if set (by tests), sees every connection once it is set
	// up (after its TLS handshake), on the connection's goroutine.
	connHook func(*conn)
	// saslOK and saslFailed count SASL authentications.
	saslOK, saslFailed atomic.Int64
	// fakeSecret keys fake SCRAM credentials until __meta has a
	// ScramSecret (no user exists yet).
	fakeSecret []byte

	// ctx is cancelled by Close once in-flight requests had their chance to
	// finish; handlers derive their contexts from it.
	ctx    context.Context
	cancel context.CancelFunc
	// closing is closed when Close starts: listeners stop, connections stop
	// reading, long-poll fetches return what they have.
	closing chan struct{}

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	wg        sync.WaitGroup
}

// New returns a server that answers Kafka requests from e. It does not listen;
// call Serve.
func New(e *engine.Engine, cfg Config) (*Server, error) {
	if e == nil {
		return nil, errors.New("kafka: nil engine")
	}
	return newServer(engineBackend{e}, cfg)
}

func newServer(be backend, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	ps := newPeers()
	return &Server{
		groups:     newGroupCoordinator(be, cfg.Groups, cfg.Logger),
		txns:       newTxnCoordinator(be, ps, cfg.Txns, cfg.Logger),
		peers:      ps,
		shares:     newShareManager(),
		authz:      acl.NewAuthorizer(acl.Config{SuperUsers: cfg.Authz.SuperUsers, AllowEveryoneIfNoACL: cfg.Authz.AllowEveryoneIfNoACL}),
		badLogs:    newLogLimiter(time.Second, badLogsPerSecond),
		reqBytes:   newByteSem(cfg.QueuedMaxRequestBytes),
		be:         be,
		cfg:        cfg,
		log:        cfg.Logger,
		ctx:        ctx,
		cancel:     cancel,
		closing:    make(chan struct{}),
		listeners:  make(map[net.Listener]struct{}),
		conns:      make(map[*conn]struct{}),
		fakeSecret: randomBytes(32),
	}, nil
}

// Serve accepts PLAINTEXT connections on ln until Close: ServeListener with
// the default Listener. It blocks, and returns nil after Close, or the
// accept error that stopped it. ln is closed on return.
func (s *Server) Serve(ln net.Listener) error { return s.ServeListener(ln, Listener{}) }

// ServeListener accepts connections on ln until Close, as listener l: over
// TLS for SSL and SASL_SSL (ln is a plain TCP listener; the TLS handshake
// runs on each connection's goroutine, bounded by handshakeTimeout), each
// connection tagged with l's name and protocol. Call it once per listener,
// each on its own goroutine. It blocks, and returns nil after Close, or the
// accept error that stopped it. ln is closed on return.
func (s *Server) ServeListener(ln net.Listener, l Listener) error {
	if err := l.Validate(); err != nil {
		ln.Close()
		return err
	}
	l = l.withDefaults()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-s.closing:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "backoff", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("kafka: accept on %s: %w", ln.Addr(), err)
		}
		backoff = 0
		c := newConn(s, nc, l)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		if len(s.conns) >= s.cfg.MaxConnections {
			// As Kafka: accepted, then closed at once.
			s.mu.Unlock()
			s.rejected.Add(1) // before the close, which the client sees
			nc.Close()
			s.badLogs.warn(s.log, "closing connection: too many connections", "remote", nc.RemoteAddr().String(), "max_connections", s.cfg.MaxConnections)
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		s.accepted.Add(1)
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			s.shareConnClosed(c)
		}()
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// badLogsPerSecond is how many WARN lines of one kind about bad clients
// (undecodable requests, bad frames) are logged per second; the rest are
// counted in a "suppressed similar messages" line.
const badLogsPerSecond = 5

// ConnectionsRejected is how many connections were closed at accept for
// exceeding Config.MaxConnections.
func (s *Server) ConnectionsRejected() int64 { return s.rejected.Load() }

// ConnectionsAccepted is how many connections were accepted and served
// (those rejected for Config.MaxConnections are not counted).
func (s *Server) ConnectionsAccepted() int64 { return s.accepted.Load() }

// ConnectionsOpen is how many client connections are open now.
func (s *Server) ConnectionsOpen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// QueuedRequestBytes is how many bytes of the request budget
// (Config.QueuedMaxRequestBytes) connections hold, and how many connections
// wait for bytes to be given back.
func (s *Server) QueuedRequestBytes() (bytes int64, waiting int) { return s.reqBytes.inUse() }

// closeGrace bounds how long Close waits for in-flight requests before it
// cancels them.
const closeGrace = 10 * time.Second

// Close stops accepting, lets in-flight requests finish (long-poll fetches
// return at once with what they have), writes their responses and closes
// every connection. It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	close(s.closing)
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.stopReading()
	}
	s.mu.Unlock()
	// Parked JoinGroup/SyncGroup requests are answered NOT_COORDINATOR.
	s.groups.Close()
	s.txns.Close()
	// After the marker writers stopped: no more requests to other brokers.
	s.peers.Close()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeGrace):
		s.log.Warn("in-flight requests did not finish in time; cancelling them", "grace", closeGrace)
		s.cancel()
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		<-done
	}
	s.cancel()
	return nil
}
