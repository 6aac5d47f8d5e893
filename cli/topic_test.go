package cli

import (
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A partition without a leader (just created, or its replicas down) has no
// end offset to list; topic describe still describes it, from Metadata,
// with the reason, instead of failing the whole command, also when no
// partition of the topic has a leader, or when its leader cannot be
// reached. The broker here answers every Metadata request with topic
// "half", partition 1 of two leaderless, topic "down", its only partition
// leaderless, and topic "far", led by a broker 1 nobody listens for.
func TestTopicDescribeLeaderless(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "half"), kfake.SeedTopics(1, "down"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gonePort := gone.Addr().(*net.TCPAddr).Port
	gone.Close()
	partitions := map[string]int32{"half": 2, "down": 1, "far": 1}
	leaderless := map[string]map[int32]bool{"half": {1: true}, "down": {0: true}}
	c.ControlKey(int16(kmsg.Metadata), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		resp := kr.ResponseKind().(*kmsg.MetadataResponse)
		resp.Brokers = []kmsg.MetadataResponseBroker{{NodeID: 0, Host: host, Port: int32(port)},
			{NodeID: 1, Host: "127.0.0.1", Port: int32(gonePort)}}
		names := []string{"half", "down", "far"}
		if req := kr.(*kmsg.MetadataRequest); req.Topics != nil {
			names = names[:0]
			for _, rt := range req.Topics {
				if rt.Topic != nil && partitions[*rt.Topic] > 0 {
					names = append(names, *rt.Topic)
				}
			}
		}
		for _, name := range names {
			topic := kmsg.NewMetadataResponseTopic()
			topic.Topic = &name
			for p := int32(0); p < partitions[name]; p++ {
				part := kmsg.NewMetadataResponseTopicPartition()
				part.Partition, part.Leader, part.Replicas, part.ISR = p, 0, []int32{0}, []int32{0}
				if leaderless[name][p] {
					part.Leader, part.ErrorCode = -1, kerr.LeaderNotAvailable.Code
				} else if name == "far" {
					part.Leader, part.Replicas, part.ISR = 1, []int32{1}, []int32{1}
				}
				topic.Partitions = append(topic.Partitions, part)
			}
			resp.Topics = append(resp.Topics, topic)
		}
		return resp, nil, true
	})

	for _, tc := range []struct {
		topic string
		parts int
	}{
		{"half", 2}, // partition 0 answers ListOffsets, 1 is left out
		{"down", 1}, // no partition answers: only a request-wide error
		{"far", 1},  // Metadata names a leader, which does not answer
	} {
		// --timeout bounds the retries of the unreachable leader.
		out, err := runApp(t, "topic", "describe", "--brokers", addr, "--timeout", "2s", "--json", tc.topic)
		if err != nil {
			t.Errorf("topic describe %s: %v", tc.topic, err)
			continue
		}
		var parts []PartitionStatus
		if err := json.Unmarshal([]byte(out), &parts); err != nil || len(parts) != tc.parts {
			t.Errorf("topic describe %s: %v: %s", tc.topic, err, out)
			continue
		}
		for _, p := range parts {
			switch {
			case leaderless[tc.topic][p.Partition]:
				if p.Leader != -1 || p.HighWatermark != -1 || !strings.Contains(p.Error, "LEADER_NOT_AVAILABLE") || len(p.Replicas) != 1 {
					t.Errorf("%s/%d (leaderless): %+v, want leader -1, no high watermark, LEADER_NOT_AVAILABLE", tc.topic, p.Partition, p)
				}
			case tc.topic == "far":
				if p.Leader != 1 || p.HighWatermark != -1 || !strings.HasPrefix(p.Error, "list end offsets: ") {
					t.Errorf("%s/%d (leader unreachable): %+v, want leader 1, no high watermark, why", tc.topic, p.Partition, p)
				}
			case p.Leader != 0 || p.HighWatermark != 0 || p.Error != "":
				t.Errorf("%s/%d (led, empty): %+v", tc.topic, p.Partition, p)
			}
		}
	}
}
