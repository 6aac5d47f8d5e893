package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/chronik-io/chronik/engine"
	"github.com/chronik-io/chronik/internal/raftconf"
	"github.com/chronik-io/chronik/internal/tlsconf"
	"github.com/chronik-io/chronik/kafka"
)

// startCommand runs one broker: the engine, the Kafka listener and the HTTP
// health endpoints, until SIGINT or SIGTERM.
func startCommand() *cli.Command {
	return &cli.Command{
		Name:  "start",
		Usage: "run a broker",
		Description: `Runs one chronik broker. With no flags: node 1 of a one-node cluster, data in
./data, Kafka on 127.0.0.1:9092, Raft on 127.0.0.1:7001, HTTP (/healthz,
/readyz, /metrics, /v1/partitions) on 127.0.0.1:8090. For a multi-node
cluster give every member the same --peers and its own --node-id and
addresses. Several --kafka-addr listeners (PLAINTEXT://, SSL://, SASL_PLAINTEXT://,
SASL_SSL://) can be served at once; see docs/SECURITY.md for TLS.`,
		Flags: append([]cli.Flag{
			&cli.Uint64Flag{Name: "node-id", Value: 1, Usage: "this broker's id (1-999), one of --peers", EnvVars: []string{"CHRONIK_NODE_ID"}},
			&cli.StringFlag{Name: "data-dir", Value: "./data", Usage: "directory of all on-disk state", EnvVars: []string{"CHRONIK_DATA_DIR"}},
			&cli.StringFlag{Name: "raft-addr", Value: "127.0.0.1:7001", Usage: "host:port of this broker's Raft transport; must match its --peers entry", EnvVars: []string{"CHRONIK_RAFT_ADDR"}},
			&cli.StringFlag{Name: "peers", Usage: "every member as id@raft-host:port, comma separated, this broker included (default: this broker alone, --node-id@--raft-addr)", EnvVars: []string{"CHRONIK_PEERS"}},
			&cli.StringFlag{Name: "join", Usage: "Kafka addresses (host:port, comma separated) of brokers of a running cluster this new broker joins: on its first start it asks them to add it (AddRaftVoter; chronik cluster add-broker does the same) before it starts; ignored once it has data", EnvVars: []string{"CHRONIK_JOIN"}},
			&cli.StringFlag{Name: "rack", Usage: "this broker's rack or zone (Kafka's broker.rack): once brokers have racks, a partition's replicas go to different racks, and consumers with client.rack read from a replica in their rack", EnvVars: []string{"CHRONIK_RACK"}},
			&cli.BoolFlag{Name: "metrics-partition-labels", Value: true, Usage: "serve per-partition series on /metrics (produce and fetch counters, replica gauges); false keeps only per-topic and broker-wide series, for clusters with many partitions", EnvVars: []string{"CHRONIK_METRICS_PARTITION_LABELS"}},
			&cli.StringFlag{Name: "http-addr", Value: "127.0.0.1:8090", Usage: "host:port serving /healthz, /readyz, /metrics and /v1/partitions; empty disables", EnvVars: []string{"CHRONIK_HTTP_ADDR"}},
			&cli.BoolFlag{Name: "auto-create-topics", Value: true, Usage: "create unknown topics on Metadata and Produce", EnvVars: []string{"CHRONIK_AUTO_CREATE_TOPICS"}},
			&cli.IntFlag{Name: "max-connections", Value: kafka.DefaultMaxConnections, Usage: "open client connections at most; one more is accepted and closed at once (max.connections)", EnvVars: []string{"CHRONIK_MAX_CONNECTIONS"}},
			&cli.IntFlag{Name: "socket-request-max-bytes", Value: kafka.DefaultMaxFrameBytes, Usage: "largest request a client may send; a larger one closes its connection (socket.request.max.bytes)", EnvVars: []string{"CHRONIK_SOCKET_REQUEST_MAX_BYTES"}},
			&cli.Int64Flag{Name: "queued-max-request-bytes", Value: kafka.DefaultQueuedMaxRequestBytes, Usage: "request bytes buffered across all connections at most; past it connections stop reading until responses are written (queued.max.request.bytes)", EnvVars: []string{"CHRONIK_QUEUED_MAX_REQUEST_BYTES"}},
			&cli.IntFlag{Name: "default-partitions", Value: 3, Usage: "partitions of auto-created topics", EnvVars: []string{"CHRONIK_DEFAULT_PARTITIONS"}},
			&cli.IntFlag{Name: "offsets-topic-partitions", Value: 16, Usage: "partitions of __consumer_offsets when this cluster creates it (offsets.topic.num.partitions)", EnvVars: []string{"CHRONIK_OFFSETS_TOPIC_PARTITIONS"}},
			&cli.DurationFlag{Name: "offsets-retention", Value: 7 * 24 * time.Hour, Usage: "how long an empty group's committed offsets are kept (offsets.retention.minutes)", EnvVars: []string{"CHRONIK_OFFSETS_RETENTION"}},
			&cli.DurationFlag{Name: "group-consumer-session-timeout", Value: 45 * time.Second, Usage: "how long a KIP-848 consumer group member may go without heartbeating before it is removed (group.consumer.session.timeout.ms)", EnvVars: []string{"CHRONIK_GROUP_CONSUMER_SESSION_TIMEOUT"}},
			&cli.DurationFlag{Name: "group-consumer-heartbeat-interval", Value: 5 * time.Second, Usage: "heartbeat interval told to KIP-848 consumers; below the session timeout (group.consumer.heartbeat.interval.ms)", EnvVars: []string{"CHRONIK_GROUP_CONSUMER_HEARTBEAT_INTERVAL"}},
			&cli.DurationFlag{Name: "group-share-record-lock-duration", Value: 30 * time.Second, Usage: "how long a share group member holds an acquired record before it is released to others; a group's share.record.lock.duration.ms overrides it (group.share.record.lock.duration.ms)", EnvVars: []string{"CHRONIK_GROUP_SHARE_RECORD_LOCK_DURATION"}},
			&cli.IntFlag{Name: "group-share-delivery-count-limit", Value: 5, Usage: "deliveries of a share group record before it is archived; a group's share.delivery.count.limit overrides it (group.share.delivery.count.limit)", EnvVars: []string{"CHRONIK_GROUP_SHARE_DELIVERY_COUNT_LIMIT"}},
			&cli.DurationFlag{Name: "group-initial-rebalance-delay", Value: 3 * time.Second, Usage: "wait before an empty group's first rebalance, so members starting together join one generation; 0 for none (group.initial.rebalance.delay.ms)", EnvVars: []string{"CHRONIK_GROUP_INITIAL_REBALANCE_DELAY"}},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: []string{"CHRONIK_LOG_LEVEL"}},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json", EnvVars: []string{"CHRONIK_LOG_FORMAT"}},
			&cli.StringFlag{Name: "logdb", Usage: "Raft log store of a new data dir: pebble (default) or tan (faster for a few hot partitions; preallocates 64 MiB per partition replica)", EnvVars: []string{"CHRONIK_LOGDB"}},
			&cli.DurationFlag{Name: "raft-tick", Value: raftconf.DefaultRTT, Usage: "Raft tick: every partition replica does a little work each tick, busy or idle, so an idle broker's CPU grows with partitions/tick; the election timeout and heartbeat are counted in ticks; use the same on every broker", EnvVars: []string{"CHRONIK_RAFT_TICK"}},
			&cli.Uint64Flag{Name: "raft-election-ticks", Value: raftconf.DefaultElectionTicks, Usage: "election timeout in ticks: a follower that hears no leader for this many to twice this many ticks campaigns (failover time); more than twice --raft-heartbeat-ticks", EnvVars: []string{"CHRONIK_RAFT_ELECTION_TICKS"}},
			&cli.Uint64Flag{Name: "raft-heartbeat-ticks", Value: raftconf.DefaultHeartbeatTicks, Usage: "leader heartbeat interval in ticks", EnvVars: []string{"CHRONIK_RAFT_HEARTBEAT_TICKS"}},
			&cli.Int64Flag{Name: "raft-log-retain-bytes", Value: 128 << 20, Usage: "Raft log each partition replica keeps for followers to catch up from; once it holds twice this much it is compacted (a follower further behind gets the partition's segments as a snapshot); negative: compact by entry count only", EnvVars: []string{"CHRONIK_RAFT_LOG_RETAIN_BYTES"}},
			&cli.Int64Flag{Name: "raft-log-budget-bytes", Value: 1 << 30, Usage: "Raft log all partition replicas of this broker keep together: each keeps at most its share (at least 4 MiB) of it; negative: no shared bound", EnvVars: []string{"CHRONIK_RAFT_LOG_BUDGET_BYTES"}},
			&cli.Int64Flag{Name: "segment-cache-bytes", Value: engine.DefaultSegmentCacheBytes, Usage: "memory for the decoded tails of the partitions' logs (consumers at the tail read them without touching a file), shared by all partitions of this broker; negative: none", EnvVars: []string{"CHRONIK_SEGMENT_CACHE_BYTES"}},
			&cli.Int64Flag{Name: "min-free-bytes", Value: 128 << 20, Usage: "free disk space to keep on the data dir's file system: below it produce requests are refused (KAFKA_STORAGE_ERROR, retriable) until space is freed; negative disables", EnvVars: []string{"CHRONIK_MIN_FREE_BYTES"}},
			&cli.BoolFlag{Name: "authz-enabled", Usage: "check every request against the ACLs (chronik acl); off: everything is allowed", EnvVars: []string{"CHRONIK_AUTHZ_ENABLED"}},
			&cli.StringFlag{Name: "super-users", Usage: "principals never denied, comma separated: User:admin,User:ops (super.users)", EnvVars: []string{"CHRONIK_SUPER_USERS"}},
			&cli.BoolFlag{Name: "allow-everyone-if-no-acl", Usage: "allow a request on a resource no ACL applies to (allow.everyone.if.no.acl.found); default: false when clients authenticate (SASL or TLS client certificates), true otherwise", EnvVars: []string{"CHRONIK_ALLOW_EVERYONE_IF_NO_ACL"}},
			&cli.BoolFlag{Name: "sasl-enabled", Usage: "require SASL authentication (PLAIN, SCRAM-SHA-256/512) on the Kafka listener; users: chronik user, --bootstrap-user", EnvVars: []string{"CHRONIK_SASL_ENABLED"}},
			&cli.StringFlag{Name: "sasl-mechanisms", Value: strings.Join(kafka.DefaultSASLMechanisms, ","), Usage: "SASL mechanisms clients may use (sasl.enabled.mechanisms)", EnvVars: []string{"CHRONIK_SASL_MECHANISMS"}},
			&cli.DurationFlag{Name: "sasl-session-lifetime", Usage: "how long a SASL authentication holds before the client must re-authenticate on its connection; 0 for ever (connections.max.reauth.ms)", EnvVars: []string{"CHRONIK_SASL_SESSION_LIFETIME"}},
			&cli.StringFlag{Name: "bootstrap-user", Usage: "NAME:PASSWORD of a SCRAM user (SHA-256 and SHA-512) created at start unless it exists", EnvVars: []string{"CHRONIK_BOOTSTRAP_USER"}},
			&cli.IntFlag{Name: "max-moving-per-broker", Value: 2, Usage: "partition reassignments copying data to or from one broker at once", EnvVars: []string{"CHRONIK_MAX_MOVING_PER_BROKER"}},
			&cli.DurationFlag{Name: "leader-balance-cooldown", Value: 10 * time.Second, Usage: "how long a returning broker must have been reachable before its preferred leaderships are handed back to it", EnvVars: []string{"CHRONIK_LEADER_BALANCE_COOLDOWN"}},
		}, securityFlags()...),
		Action: runStart,
	}
}

// startConfig is the parsed command line of chronik start.
type startConfig struct {
	engine    engine.Config
	kafka     kafka.Config
	listeners []listenerSpec
	tls       tlsSetup
	httpAddr  string
	// partitionMetrics: --metrics-partition-labels.
	partitionMetrics bool
	// bootstrapUser and bootstrapPassword: --bootstrap-user.
	bootstrapUser, bootstrapPassword string
}

func parseStart(c *cli.Context, lg *slog.Logger) (startConfig, error) {
	var sc startConfig
	var errs []error
	// Without --peers the broker is a one-node cluster at its own Raft
	// address, so moving --raft-addr alone does not contradict a default
	// peer list.
	var err error
	peers := map[uint64]string{c.Uint64("node-id"): c.String("raft-addr")}
	if c.String("peers") != "" {
		if peers, err = parsePeers(c.String("peers")); err != nil {
			errs = append(errs, err)
		}
	}
	dp := c.Int("default-partitions")
	if dp < 1 || dp > 1<<20 {
		errs = append(errs, fmt.Errorf("--default-partitions %d: must be at least 1", dp))
	}
	if sc.listeners, err = parseListeners(c); err != nil {
		errs = append(errs, err)
	}
	if sc.tls, err = parseTLS(c, sc.listeners); err != nil {
		errs = append(errs, err)
	}
	sc.httpAddr = c.String("http-addr")
	sc.partitionMetrics = c.Bool("metrics-partition-labels")
	sc.engine = engine.Config{
		NodeID:            c.Uint64("node-id"),
		Rack:              c.String("rack"),
		DataDir:           c.String("data-dir"),
		RaftAddr:          c.String("raft-addr"),
		Peers:             peers,
		Logger:            lg,
		DefaultPartitions: int32(dp),

		LogDB:                 c.String("logdb"),
		RTT:                   c.Duration("raft-tick"),
		ElectionTicks:         c.Uint64("raft-election-ticks"),
		HeartbeatTicks:        c.Uint64("raft-heartbeat-ticks"),
		LeaderBalanceCooldown: c.Duration("leader-balance-cooldown"),
		MinFreeBytes:          c.Int64("min-free-bytes"),
		MaxMovingPerBroker:    c.Int("max-moving-per-broker"),
		RaftLogRetainBytes:    c.Int64("raft-log-retain-bytes"),
		RaftLogBudgetBytes:    c.Int64("raft-log-budget-bytes"),
		SegmentCacheBytes:     c.Int64("segment-cache-bytes"),
		LeaderBalanceInterval: max(c.Duration("leader-balance-cooldown")/2, 100*time.Millisecond),
		RaftTLS:               sc.tls.raftFiles(),
		Join:                  joinFunc(c.String("join"), c.Uint64("node-id"), c.String("raft-addr"), peers, lg),
	}
	if err := sc.engine.Validate(); err != nil {
		errs = append(errs, err)
	}
	if n := c.Int("max-connections"); n < 1 {
		errs = append(errs, fmt.Errorf("--max-connections %d: must be at least 1", n))
	}
	if n := c.Int("socket-request-max-bytes"); n < 1024 || n > math.MaxInt32 {
		errs = append(errs, fmt.Errorf("--socket-request-max-bytes %d: must be in [1024, %d]", n, math.MaxInt32))
	}
	if n := c.Int64("queued-max-request-bytes"); n < 1024 {
		errs = append(errs, fmt.Errorf("--queued-max-request-bytes %d: must be at least 1024", n))
	}
	sc.kafka = kafka.Config{
		MaxConnections:        c.Int("max-connections"),
		MaxFrameBytes:         int32(min(max(c.Int("socket-request-max-bytes"), 1024), math.MaxInt32)),
		QueuedMaxRequestBytes: c.Int64("queued-max-request-bytes"),
		AutoCreateTopics:      c.Bool("auto-create-topics"),
		DefaultPartitions:     int32(dp),
		Logger:                lg,
		LogDir:                sc.engine.DataDir,
		Groups: kafka.GroupConfig{
			OffsetsTopicPartitions: int32(c.Int("offsets-topic-partitions")),
			OffsetsRetention:       c.Duration("offsets-retention"),
			InitialRebalanceDelay:  c.Duration("group-initial-rebalance-delay"),
			// KIP-848 timers; Validate checks interval < timeout.
			ConsumerSessionTimeout:    c.Duration("group-consumer-session-timeout"),
			ConsumerHeartbeatInterval: c.Duration("group-consumer-heartbeat-interval"),
			// Share groups (KIP-932).
			ShareRecordLockDuration: c.Duration("group-share-record-lock-duration"),
			ShareDeliveryCountLimit: c.Int("group-share-delivery-count-limit"),
		},
	}
	sc.kafka.Authz = kafka.AuthzConfig{
		Enabled:              c.Bool("authz-enabled"),
		SuperUsers:           splitList(c.String("super-users")),
		AllowEveryoneIfNoACL: allowEveryoneDefault(c),
	}
	sc.kafka.SASL = kafka.SASLConfig{
		Enabled:         c.Bool("sasl-enabled"),
		Mechanisms:      splitList(c.String("sasl-mechanisms")),
		SessionLifetime: c.Duration("sasl-session-lifetime"),
	}
	if bu := c.String("bootstrap-user"); bu != "" {
		name, pw, ok := strings.Cut(bu, ":")
		if !ok || name == "" || pw == "" {
			errs = append(errs, errors.New("--bootstrap-user: want NAME:PASSWORD"))
		}
		sc.bootstrapUser, sc.bootstrapPassword = name, pw
	}
	if sc.kafka.Groups.InitialRebalanceDelay == 0 {
		sc.kafka.Groups.InitialRebalanceDelay = -1 // none (0 would mean the default)
	}
	if n := c.Int("offsets-topic-partitions"); n < 1 || n > 10000 {
		errs = append(errs, fmt.Errorf("--offsets-topic-partitions %d: must be in [1, 10000]", n))
	}
	if c.Duration("group-consumer-session-timeout") <= 0 || c.Duration("group-consumer-heartbeat-interval") <= 0 {
		errs = append(errs, fmt.Errorf("--group-consumer-session-timeout %s and --group-consumer-heartbeat-interval %s: must be positive",
			c.Duration("group-consumer-session-timeout"), c.Duration("group-consumer-heartbeat-interval")))
	}
	if c.Duration("group-share-record-lock-duration") <= 0 || c.Int("group-share-delivery-count-limit") <= 0 {
		errs = append(errs, fmt.Errorf("--group-share-record-lock-duration %s and --group-share-delivery-count-limit %d: must be positive",
			c.Duration("group-share-record-lock-duration"), c.Int("group-share-delivery-count-limit")))
	}
	if c.Duration("offsets-retention") <= 0 {
		errs = append(errs, fmt.Errorf("--offsets-retention %s: must be positive", c.Duration("offsets-retention")))
	}
	if err := sc.kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	return sc, errors.Join(errs...)
}

// parsePeers parses "1@h1:7001,2@h2:7001".
func parsePeers(s string) (map[uint64]string, error) {
	peers := map[uint64]string{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		id, addr, ok := strings.Cut(p, "@")
		n, err := strconv.ParseUint(id, 10, 64)
		if !ok || err != nil || n == 0 {
			return nil, fmt.Errorf("--peers entry %q: want id@host:port with id >= 1", p)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("--peers entry %q: %v", p, err)
		}
		if _, dup := peers[n]; dup {
			return nil, fmt.Errorf("--peers: node %d listed twice", n)
		}
		peers[n] = addr
	}
	if len(peers) == 0 {
		return nil, errors.New("--peers is empty")
	}
	return peers, nil
}

func newLogger(level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", format)
	}
}

func runStart(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("start takes no arguments, got %q", c.Args().Slice())
	}
	lg, err := newLogger(c.String("log-level"), c.String("log-format"))
	if err != nil {
		return err
	}
	sc, err := parseStart(c, lg)
	if err != nil {
		return err
	}

	// TLS first: bad certificate files fail before anything binds.
	stopTLS := make(chan struct{})
	defer close(stopTLS)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reloads := make(chan struct{})
	go func() {
		for range hup {
			select {
			case reloads <- struct{}{}:
			case <-stopTLS:
				return
			}
		}
	}()
	certs, err := sc.tls.start(lg, stopTLS, reloads)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}

	// Bind every port before opening the engine, so a busy port fails fast
	// and the engine registers the addresses the listeners really have.
	lns := make([]net.Listener, len(sc.listeners))
	sc.engine.KafkaListeners = map[string]string{}
	for i := range sc.listeners {
		ls := &sc.listeners[i]
		ln, err := net.Listen("tcp", ls.bind)
		if err != nil {
			return fmt.Errorf("kafka listener %s: %w", ls.l.Name, err)
		}
		defer ln.Close()
		lns[i] = ln
		if ls.advertised == "" {
			if ln.Addr().(*net.TCPAddr).IP.IsUnspecified() {
				return fmt.Errorf("--kafka-addr %s://%s binds every interface: set --advertise %s://host:port to the address clients should use", ls.l.Name, ls.bind, ls.l.Name)
			}
			ls.advertised = ln.Addr().String()
		}
		ls.l.TLS = sc.tls.serverConfig(certs, ls.l.Protocol)
		sc.engine.KafkaListeners[ls.l.Name] = ls.advertised
	}
	advertised := sc.listeners[0].advertised
	sc.engine.KafkaAddr = advertised
	var hln net.Listener
	if sc.httpAddr != "" {
		if hln, err = net.Listen("tcp", sc.httpAddr); err != nil {
			return fmt.Errorf("http listener: %w", err)
		}
		defer hln.Close()
	}
	if err := checkPortFree(sc.engine.RaftAddr); err != nil {
		return fmt.Errorf("raft listener: %w", err)
	}
	if hln != nil {
		sc.kafka.HTTPAddr = advertisedHTTP(hln.Addr().(*net.TCPAddr), advertised)
		if sc.tls.http {
			hln = tls.NewListener(hln, certs.ServerConfig(tlsconf.ClientAuthNone))
		}
	}
	metrics := newPromMetrics()
	metrics.perPartition = sc.partitionMetrics
	sc.engine.Hooks = append(sc.engine.Hooks, metrics, metrics.raft)
	sc.kafka.RequestHook = metrics

	e, err := engine.Open(sc.engine)
	if err != nil {
		return fmt.Errorf("open engine in %s: %w", sc.engine.DataDir, err)
	}
	srv, err := kafka.New(e, sc.kafka)
	if err != nil {
		e.Close()
		return err
	}

	errc := make(chan error, len(lns)+1)
	for i, ln := range lns {
		go func() { errc <- srv.ServeListener(ln, sc.listeners[i].l) }()
	}
	var hs *http.Server
	if hln != nil {
		metrics.watchEngine(e)
		metrics.watchServer(srv)
		metrics.watchGroups(srv, e)
		hs = &http.Server{Handler: brokerHTTPHandler(e, metrics), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := hs.Serve(hln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("http: %w", err)
			}
		}()
	}
	var listeners []string
	for _, ls := range sc.listeners {
		listeners = append(listeners, ls.l.Name+"://"+ls.advertised)
	}
	lg.Info("chronik started", "node", sc.engine.NodeID, "kafka", strings.Join(listeners, ","), "raft", sc.engine.RaftAddr,
		"raft_tls", sc.tls.raft, "http", sc.httpAddr, "http_tls", sc.tls.http, "data_dir", sc.engine.DataDir, "peers", fmt.Sprint(sc.engine.Peers))
	go func() {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := e.WaitReady(ctx)
			cancel()
			if err == nil {
				lg.Info("broker ready: registered in __meta")
				if sc.bootstrapUser != "" {
					ensureBootstrapUser(e, sc.bootstrapUser, sc.bootstrapPassword, lg)
				}
				return
			}
			if errors.Is(err, engine.ErrClosed) {
				return
			}
			lg.Warn("still waiting for the cluster: is a quorum of --peers running?", "err", err)
		}
	}()

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var runErr error
	select {
	case s := <-sigs:
		lg.Info("shutting down", "signal", s.String())
		first := time.Now()
		go func() {
			// A repeated signal within a second is the same request (a
			// signal sent to both the process and its group); a later one
			// means the user wants out now.
			for range sigs {
				if time.Since(first) > time.Second {
					lg.Error("second signal: exiting without a clean shutdown")
					os.Exit(2)
				}
			}
		}()
	case runErr = <-errc:
		lg.Error("shutting down after a listener failed", "err", runErr)
	case <-e.Removed():
		lg.Warn("this broker was removed from the cluster (chronik cluster remove-broker): shutting down; its id cannot rejoin, its data dir can be deleted", "node", sc.engine.NodeID)
	}

	// Stop accepting and finish in-flight requests, then let the engine
	// hand its leaderships over and close its shards.
	srv.Close()
	if hs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		hs.Shutdown(ctx)
		cancel()
	}
	if err := e.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("close engine: %w", err)
	}
	if runErr == nil {
		lg.Info("chronik stopped")
	}
	return runErr
}

// ensureBootstrapUser creates the --bootstrap-user through __meta unless
// it exists, retrying while the cluster is busy, until the engine closes.
func ensureBootstrapUser(e *engine.Engine, name, password string, lg *slog.Logger) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		created, err := e.EnsureScramUser(ctx, name, password)
		cancel()
		switch {
		case err == nil && created:
			lg.Info("bootstrap user created", "user", name)
			return
		case err == nil:
			lg.Info("bootstrap user exists; left unchanged", "user", name)
			return
		case errors.Is(err, engine.ErrClosed), errors.Is(err, engine.ErrInvalidCredential):
			lg.Error("bootstrap user not created", "user", name, "err", err)
			return
		}
		lg.Warn("creating the bootstrap user; retrying", "user", name, "err", err)
		time.Sleep(time.Second)
	}
}

// checkPortFree reports whether host:port can be bound now, so a busy Raft
// port is a clear error rather than a transport failure inside the engine.
func checkPortFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

// advertisedHTTP is the HTTP address other hosts reach this broker at: the
// bound address, or, when it binds every interface, the advertised Kafka
// host with the HTTP port.
func advertisedHTTP(bound *net.TCPAddr, kafkaAdvertised string) string {
	if !bound.IP.IsUnspecified() {
		return bound.String()
	}
	host, _, err := net.SplitHostPort(kafkaAdvertised)
	if err != nil {
		return bound.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(bound.Port))
}

// allowEveryoneDefault is --allow-everyone-if-no-acl when given. Otherwise
// it is false when clients authenticate and true when they do not: without
// authentication every client is User:ANONYMOUS, and denying resources
// without ACLs would lock every client out the moment --authz-enabled is
// set. This is the one place that decides; it reads the authentication
// flags by name (--sasl-enabled, --tls-client-auth), which are false or
// empty where they are not defined.
func allowEveryoneDefault(c *cli.Context) bool {
	if c.IsSet("allow-everyone-if-no-acl") {
		return c.Bool("allow-everyone-if-no-acl")
	}
	clientAuth := c.String("tls-client-auth")
	authenticated := c.Bool("sasl-enabled") || (clientAuth != "" && clientAuth != "none")
	for _, l := range c.StringSlice("kafka-addr") {
		authenticated = authenticated || strings.HasPrefix(l, "SASL_")
	}
	return !authenticated
}
