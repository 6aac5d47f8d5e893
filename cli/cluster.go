package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/urfave/cli/v2"

	"github.com/chronik-io/chronik/kafka"
)

func clusterCommand() *cli.Command {
	return &cli.Command{
		Name:  "cluster",
		Usage: "inspect and rebalance the cluster, add and remove brokers",
		Subcommands: []*cli.Command{
			clusterAddBrokerCommand(),
			clusterRemoveBrokerCommand(),
			{
				Name:  "status",
				Usage: "brokers, and per partition: leader, epoch, replicas, high watermark, each replica's lag; consumer group lag",
				Description: `Reads Metadata and end offsets over the Kafka protocol from --brokers, and
every broker's HTTP address (its chronik.http.addr broker config; --http
overrides them). It then asks every broker for its replicas (GET
/v1/partitions) and shows each replica's high watermark, lag behind the leader
and, with --checksums, a CRC-32C of its whole log: caught-up replicas of a
partition have equal checksums.

From each broker's GET /v1/status (what its status page and /metrics show)
it adds each partition's health as its leader counts it (under-replicated,
offline replicas, leaderless), the cluster health totals (summed or maxed
over brokers as docs/METRICS.md aggregates them), and every consumer group
with its committed offsets and lag as its coordinator reports them
(chronik_consumer_group_lag: unknown when the coordinator hosts no replica
of the partition).`,
				Flags: append(adminFlags(),
					&cli.StringFlag{Name: "http", Usage: "HTTP addresses (host:port) of the brokers, comma separated (default: what each broker reports)", EnvVars: []string{"CHRONIK_HTTP_ADDRS"}},
					&cli.BoolFlag{Name: "checksums", Usage: "checksum every replica's log (reads all data)"},
				),
				Action: runClusterStatus,
			},
			clusterRebalanceCommand(),
		},
	}
}

// ClusterStatus is the output of cluster status.
type ClusterStatus struct {
	ClusterID  string             `json:"cluster_id"`
	Controller int32              `json:"controller"`
	Brokers    []BrokerStatus     `json:"brokers"`
	Partitions []PartitionReplica `json:"partitions"`
	// Health totals the brokers' cluster health gauges (GET /v1/status).
	Health StatusHealth `json:"health"`
	// Groups are the consumer groups, each from its coordinator's status.
	Groups []ClusterGroup `json:"groups"`
	// Errors lists brokers whose /v1/partitions could not be read.
	Errors []string `json:"errors,omitempty"`
}

// BrokerStatus is one broker in Metadata.
type BrokerStatus struct {
	ID        int32  `json:"id"`
	KafkaAddr string `json:"kafka_addr"`
	Leads     int    `json:"leads"` // partitions it leads
}

// PartitionReplica is a partition with the state of each replica.
type PartitionReplica struct {
	PartitionStatus
	ReplicaState []ReplicaState `json:"replica_state,omitempty"`
	// Health is the partition's health as the broker leading it counts
	// it; nil when that broker's /v1/status could not be read.
	Health *PartitionHealth `json:"health,omitempty"`
}

// PartitionHealth is a partition's flags in a broker's /v1/status.
type PartitionHealth struct {
	Leaderless      bool `json:"leaderless"`
	UnderReplicated bool `json:"under_replicated"`
	OfflineReplicas int  `json:"offline_replicas"`
}

// ClusterGroup is a consumer group as its coordinator reports it.
type ClusterGroup struct {
	Coordinator uint64 `json:"coordinator"`
	StatusGroup
}

// ReplicaState is one replica as its broker reports it.
type ReplicaState struct {
	Broker        uint64 `json:"broker"`
	IsLeader      bool   `json:"is_leader"`
	HighWatermark int64  `json:"high_watermark"`
	Lag           int64  `json:"lag"` // leader's high watermark minus this one
	Checksum      uint32 `json:"checksum,omitempty"`
	SizeBytes     int64  `json:"size_bytes"`
	// Quarantine is the replica's quarantine state ("rebuilding",
	// "quarantined", "damaged") when its broker found it damaged.
	Quarantine string `json:"quarantine,omitempty"`
}

func runClusterStatus(c *cli.Context) error {
	adm, ctx, done, err := newAdmin(c)
	if err != nil {
		return err
	}
	defer done()
	md, parts, err := describePartitions(ctx, adm)
	if err != nil {
		return err
	}
	st := ClusterStatus{ClusterID: md.Cluster, Controller: md.Controller}
	leads := map[int32]int{}
	for _, p := range parts {
		leads[p.Leader]++
	}
	for _, b := range md.Brokers {
		st.Brokers = append(st.Brokers, BrokerStatus{ID: b.NodeID, KafkaAddr: fmt.Sprintf("%s:%d", b.Host, b.Port), Leads: leads[b.NodeID]})
	}
	type key struct {
		topic string
		part  int32
	}
	replicas := map[key][]ReplicaState{}
	httpAddrs := splitList(c.String("http"))
	if len(httpAddrs) == 0 {
		var errs []string
		httpAddrs, errs = brokerHTTPAddrs(ctx, adm, md.Brokers)
		st.Errors = append(st.Errors, errs...)
	}
	health := map[key]PartitionHealth{} // from the leader's status
	for _, addr := range httpAddrs {
		if bs, err := fetchStatus(ctx, addr); err != nil {
			st.Errors = append(st.Errors, err.Error())
		} else {
			st.addBrokerStatus(bs)
			for _, t := range bs.Topics {
				for _, p := range t.Partitions {
					k := key{t.Name, p.Partition}
					if _, seen := health[k]; p.Leader == bs.Broker || p.Leaderless && !seen {
						health[k] = PartitionHealth{Leaderless: p.Leaderless,
							UnderReplicated: p.UnderReplicated, OfflineReplicas: p.OfflineReplicas}
					}
				}
			}
		}
		pr, err := fetchPartitions(ctx, addr, c.Bool("checksums"))
		if err != nil {
			st.Errors = append(st.Errors, err.Error())
			continue
		}
		for _, r := range pr.Replicas {
			k := key{r.Topic, r.Partition}
			rs := ReplicaState{Broker: r.Broker, IsLeader: r.IsLeader,
				HighWatermark: r.HighWatermark, Checksum: r.Checksum, SizeBytes: r.SizeBytes}
			if r.Quarantine != nil {
				rs.Quarantine = string(r.Quarantine.State)
				st.Errors = append(st.Errors, fmt.Sprintf("broker %d: %s/%d replica %s: %s %s",
					r.Broker, r.Topic, r.Partition, r.Quarantine.State, r.Quarantine.File, r.Quarantine.Reason))
			}
			replicas[k] = append(replicas[k], rs)
		}
	}
	for _, p := range parts {
		pr := PartitionReplica{PartitionStatus: p, ReplicaState: replicas[key{p.Topic, p.Partition}]}
		if h, ok := health[key{p.Topic, p.Partition}]; ok {
			pr.Health = &h
		}
		lead := p.HighWatermark
		for _, r := range pr.ReplicaState {
			if r.IsLeader {
				lead = max(lead, r.HighWatermark)
			}
		}
		for i := range pr.ReplicaState {
			pr.ReplicaState[i].Lag = max(0, lead-pr.ReplicaState[i].HighWatermark)
		}
		st.Partitions = append(st.Partitions, pr)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, st)
	}
	return printClusterStatus(c.App.Writer, st)
}

// brokerHTTPAddrs asks every broker for its chronik.http.addr config; a
// broker that serves no HTTP reports none and is left out.
func brokerHTTPAddrs(ctx context.Context, adm *kadm.Client, brokers kadm.BrokerDetails) (addrs, errs []string) {
	for _, b := range brokers {
		rcs, err := adm.DescribeBrokerConfigs(ctx, b.NodeID)
		if err != nil {
			errs = append(errs, fmt.Sprintf("broker %d configs: %v", b.NodeID, err))
			continue
		}
		for _, rc := range rcs {
			if rc.Err != nil {
				errs = append(errs, fmt.Sprintf("broker %d configs: %v", b.NodeID, rc.Err))
				continue
			}
			for _, c := range rc.Configs {
				if c.Key == kafka.HTTPAddrConfig && c.MaybeValue() != "" {
					addrs = append(addrs, c.MaybeValue())
				}
			}
		}
	}
	return addrs, errs
}

// addBrokerStatus adds one broker's /v1/status to the health totals and
// groups: its led and under-replicated partitions are its own (summed),
// leaderless partitions and offline replicas its view of the whole
// cluster (the worst view is kept, as max() in docs/METRICS.md).
func (st *ClusterStatus) addBrokerStatus(bs StatusResponse) {
	st.Health.PartitionsLed += bs.Health.PartitionsLed
	st.Health.UnderReplicated += bs.Health.UnderReplicated
	st.Health.Leaderless = max(st.Health.Leaderless, bs.Health.Leaderless)
	st.Health.OfflineReplicas = max(st.Health.OfflineReplicas, bs.Health.OfflineReplicas)
	for _, g := range bs.Groups {
		st.Groups = append(st.Groups, ClusterGroup{Coordinator: bs.Broker, StatusGroup: g})
	}
	slices.SortFunc(st.Groups, func(a, b ClusterGroup) int { return strings.Compare(a.Name, b.Name) })
}

// fetchPartitions reads GET /v1/partitions from one broker.
func fetchPartitions(ctx context.Context, addr string, checksums bool) (PartitionsResponse, error) {
	var pr PartitionsResponse
	path := "/v1/partitions"
	if checksums {
		path += "?checksum=1"
	}
	return pr, getJSON(ctx, addr, path, &pr)
}

// fetchStatus reads GET /v1/status from one broker.
func fetchStatus(ctx context.Context, addr string) (StatusResponse, error) {
	var st StatusResponse
	return st, getJSON(ctx, addr, "/v1/status", &st)
}

// getJSON decodes the JSON answer of GET path from addr into v.
func getJSON(ctx context.Context, addr, path string, v any) error {
	url := "http://" + addr + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	cl := &http.Client{Timeout: 30 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("%s: decode: %w", url, err)
	}
	return nil
}

func printClusterStatus(w io.Writer, st ClusterStatus) error {
	fmt.Fprintf(w, "cluster %s, controller %d\n", st.ClusterID, st.Controller)
	h := st.Health
	fmt.Fprintf(w, "health: %d partitions led, %d under-replicated, %d leaderless, %d offline replicas\n\n",
		h.PartitionsLed, h.UnderReplicated, h.Leaderless, h.OfflineReplicas)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BROKER\tKAFKA\tLEADS")
	for _, b := range st.Brokers {
		fmt.Fprintf(tw, "%d\t%s\t%d\n", b.ID, b.KafkaAddr, b.Leads)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tLEADER\tEPOCH\tREPLICAS\tHIGH-WATERMARK\tREPLICA LAG (broker:lag)\tHEALTH\tERROR")
	for _, p := range st.Partitions {
		var lags []string
		for _, r := range p.ReplicaState {
			s := fmt.Sprintf("%d:%d", r.Broker, r.Lag)
			if r.Checksum != 0 {
				s += fmt.Sprintf("/%08x", r.Checksum)
			}
			if r.Quarantine != "" {
				s += "(" + r.Quarantine + ")"
			}
			lags = append(lags, s)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%v\t%d\t%s\t%s\t%s\n", p.Topic, p.Partition, p.Leader, p.LeaderEpoch, p.Replicas,
			p.HighWatermark, strings.Join(lags, " "), partitionHealthText(p.Health), p.Error)
	}
	tw.Flush()
	if len(st.Groups) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "GROUP\tCOORDINATOR\tSTATE\tMEMBERS\tTOPIC\tPARTITION\tCOMMITTED\tHIGH-WATERMARK\tLAG")
		for _, g := range st.Groups {
			if len(g.Offsets) == 0 {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t\t\t\t\t\n", displayName(g.Name), g.Coordinator, g.State, g.Members)
			}
			for _, o := range g.Offsets {
				hw, lag := "-", "-" // the coordinator hosts no replica: no lag known (as /metrics)
				if o.HighWatermark >= 0 {
					hw, lag = strconv.FormatInt(o.HighWatermark, 10), strconv.FormatInt(o.Lag, 10)
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%d\t%d\t%s\t%s\n", displayName(g.Name), g.Coordinator, g.State, g.Members,
					o.Topic, o.Partition, o.Committed, hw, lag)
			}
		}
		tw.Flush()
	}
	for _, e := range st.Errors {
		fmt.Fprintf(w, "warning: %s\n", e)
	}
	return nil
}

// displayName quotes a group name (any string a client chose) that is
// empty or holds spaces or unprintable characters, so it cannot break the
// table or write control sequences to the terminal.
func displayName(s string) string {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	return s
}

// partitionHealthText is the HEALTH column of a partition.
func partitionHealthText(h *PartitionHealth) string {
	switch {
	case h == nil:
		return "?" // its leader's /v1/status was not read
	case h.Leaderless:
		return "leaderless"
	case h.UnderReplicated:
		return fmt.Sprintf("under-replicated(%d offline)", h.OfflineReplicas)
	case h.OfflineReplicas > 0:
		return fmt.Sprintf("%d offline", h.OfflineReplicas)
	}
	return "ok"
}

// fetchReady reports whether GET /readyz on addr answers 200.
func fetchReady(ctx context.Context, addr string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := (&http.Client{Timeout: time.Second}).Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
