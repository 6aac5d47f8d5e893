package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/urfave/cli/v2"

	"github.com/chronik-io/chronik/kafka"
)

func clusterCommand() *cli.Command {
	return &cli.Command{
		Name:  "cluster",
		Usage: "inspect the cluster",
		Subcommands: []*cli.Command{
			{
				Name:  "status",
				Usage: "brokers, and per partition: leader, epoch, replicas, high watermark, each replica's lag",
				Description: `Reads Metadata and end offsets over the Kafka protocol from --brokers, and
every broker's HTTP address (its chronik.http.addr broker config; --http
overrides them). It then asks every broker for its replicas (GET
/v1/partitions) and shows each replica's high watermark, lag behind the leader
and, with --checksums, a CRC-32C of its whole log: caught-up replicas of a
partition have equal checksums.`,
				Flags: append(adminFlags(),
					&cli.StringFlag{Name: "http", Usage: "HTTP addresses (host:port) of the brokers, comma separated (default: what each broker reports)", EnvVars: []string{"CHRONIK_HTTP_ADDRS"}},
					&cli.BoolFlag{Name: "checksums", Usage: "checksum every replica's log (reads all data)"},
				),
				Action: runClusterStatus,
			},
		},
	}
}

// ClusterStatus is the output of cluster status.
type ClusterStatus struct {
	ClusterID  string             `json:"cluster_id"`
	Controller int32              `json:"controller"`
	Brokers    []BrokerStatus     `json:"brokers"`
	Partitions []PartitionReplica `json:"partitions"`
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
	for _, addr := range httpAddrs {
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

// fetchPartitions reads GET /v1/partitions from one broker.
func fetchPartitions(ctx context.Context, addr string, checksums bool) (PartitionsResponse, error) {
	var pr PartitionsResponse
	url := "http://" + addr + "/v1/partitions"
	if checksums {
		url += "?checksum=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return pr, fmt.Errorf("%s: %w", url, err)
	}
	cl := &http.Client{Timeout: 30 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		return pr, fmt.Errorf("%s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return pr, fmt.Errorf("%s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil {
		return pr, fmt.Errorf("%s: decode: %w", url, err)
	}
	return pr, nil
}

func printClusterStatus(w io.Writer, st ClusterStatus) error {
	fmt.Fprintf(w, "cluster %s, controller %d\n\n", st.ClusterID, st.Controller)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BROKER\tKAFKA\tLEADS")
	for _, b := range st.Brokers {
		fmt.Fprintf(tw, "%d\t%s\t%d\n", b.ID, b.KafkaAddr, b.Leads)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tLEADER\tEPOCH\tREPLICAS\tHIGH-WATERMARK\tREPLICA LAG (broker:lag)\tERROR")
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
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%v\t%d\t%s\t%s\n", p.Topic, p.Partition, p.Leader, p.LeaderEpoch, p.Replicas,
			p.HighWatermark, strings.Join(lags, " "), p.Error)
	}
	tw.Flush()
	for _, e := range st.Errors {
		fmt.Fprintf(w, "warning: %s\n", e)
	}
	return nil
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
