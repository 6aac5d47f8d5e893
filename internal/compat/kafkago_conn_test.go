package compat

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"
)

// kafkaGoConn checks kafka-go's low-level Conn, which negotiates its own
// (older) versions: Controller, CreateTopics (v0-2), ReadPartitions
// (Metadata v1/v6), DialLeader with WriteCompressedMessages (Produce v3/v7),
// ReadOffsets (ListOffsets v1), ReadBatch (Fetch v10) and DeleteTopics.
func kafkaGoConn(ctx context.Context, t *testing.T, brokers []string, topic string) {
	t.Helper()
	conn, err := kafka.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		t.Fatalf("dial %s: %v", brokers[0], err)
	}
	defer conn.Close()
	ctrl, err := conn.Controller()
	if err != nil {
		t.Fatalf("Controller: %v", err)
	}
	cc, err := kafka.DialContext(ctx, "tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
	if err != nil {
		t.Fatalf("dial controller %+v: %v", ctrl, err)
	}
	defer cc.Close()
	if err := cc.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatalf("Conn.CreateTopics %s: %v", topic, err)
	}
	var parts []kafka.Partition
	for deadline := time.Now().Add(10 * time.Second); ; {
		parts, err = conn.ReadPartitions(topic)
		if err == nil && len(parts) == 1 && parts[0].Leader.Port != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ReadPartitions %s: %+v, %v; want 1 partition with a leader", topic, parts, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	lc, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, 0)
	if err != nil {
		t.Fatalf("DialLeader %s/0: %v", topic, err)
	}
	defer lc.Close()
	want := makeRecs("conn", "gzip", 50)
	msgs := make([]kafka.Message, len(want))
	for i, r := range want {
		msgs[i] = kafka.Message{Key: []byte(r.Key), Value: []byte(r.Value)}
		for _, k := range []string{"codec", "seq"} {
			msgs[i].Headers = append(msgs[i].Headers, kafka.Header{Key: k, Value: []byte(r.Headers[k])})
		}
	}
	_ = lc.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := lc.WriteCompressedMessages(kafka.Gzip.Codec(), msgs...); err != nil {
		t.Fatalf("WriteCompressedMessages: %v", err)
	}
	first, last, err := lc.ReadOffsets()
	if err != nil || first != 0 || last != int64(len(want)) {
		t.Errorf("ReadOffsets: [%d, %d), %v; want [0, %d)", first, last, err, len(want))
	}
	if _, err := lc.Seek(0, kafka.SeekAbsolute); err != nil {
		t.Fatalf("Seek: %v", err)
	}
	var got []rec
	for len(got) < len(want) {
		batch := lc.ReadBatch(1, 1<<20)
		for {
			m, err := batch.ReadMessage()
			if err != nil {
				break
			}
			got = append(got, kafkaGoRec(m))
		}
		if err := batch.Close(); err != nil {
			t.Fatalf("ReadBatch after %d records: %v", len(got), err)
		}
	}
	checkRecs(t, "Conn.ReadBatch", want, got)

	if err := cc.DeleteTopics(topic); err != nil {
		t.Errorf("Conn.DeleteTopics %s: %v", topic, err)
	}
}
