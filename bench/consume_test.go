package bench

import (
	"strings"
	"testing"
	"time"
)

func TestProduceThenConsume(t *testing.T) {
	fake := newFake(t)
	pc := DefaultProduceConfig()
	pc.Brokers = fake.ListenAddrs()
	pc.Topic = "roundtrip"
	pc.Partitions = 3
	pc.Records = 3000
	pc.RecordSize = 200
	pc.Payload = "text"
	pc.Compression = "zstd"
	pres, err := Produce(testCtx(t), pc)
	if err != nil {
		t.Fatal(err)
	}
	if pres.Acked != 3000 {
		t.Fatalf("acked %d, want 3000 (errors %v)", pres.Acked, pres.Errors)
	}

	for _, tc := range []struct{ group, share string }{{"", ""}, {"bench-group", ""}, {"", "bench-share"}} {
		t.Run("group="+tc.group+",share="+tc.share, func(t *testing.T) {
			cc := DefaultConsumeConfig()
			cc.Brokers = fake.ListenAddrs()
			cc.Topic = "roundtrip"
			cc.Group, cc.ShareGroup = tc.group, tc.share
			cc.Records = 3000
			cc.IdleTimeout = 5 * time.Second
			cres, err := Consume(testCtx(t), cc)
			if err != nil {
				t.Fatal(err)
			}
			if cres.Consumed != pres.Acked || cres.Bytes != pres.Bytes {
				t.Errorf("consumed %d records, %d bytes; produced %d, %d", cres.Consumed, cres.Bytes, pres.Acked, pres.Bytes)
			}
			if cres.Latency.Count != 3000 {
				t.Errorf("end-to-end samples %d, want 3000 (every record carries %s)", cres.Latency.Count, TimestampHeader)
			}
			checkOrdered(t, cres.Latency)
			if cres.Failed != 0 {
				t.Errorf("fetch errors: %v", cres.Errors)
			}
		})
	}
}

func TestConsumeIdleTimeout(t *testing.T) {
	fake := newFake(t)
	pc := DefaultProduceConfig()
	pc.Brokers = fake.ListenAddrs()
	pc.Topic = "short"
	pc.Partitions = 1
	pc.Records = 100
	pc.RecordSize = 10
	if _, err := Produce(testCtx(t), pc); err != nil {
		t.Fatal(err)
	}
	cc := DefaultConsumeConfig()
	cc.Brokers = fake.ListenAddrs()
	cc.Topic = "short"
	cc.Records = 200
	cc.IdleTimeout = 300 * time.Millisecond
	res, err := Consume(testCtx(t), cc)
	if err == nil || !strings.Contains(err.Error(), "consumed 100 of 200 records") {
		t.Fatalf("err %v: want an idle-timeout error naming 100 of 200", err)
	}
	if res.Consumed != 100 {
		t.Errorf("consumed %d, want 100", res.Consumed)
	}
}

func TestConsumeUnknownTopic(t *testing.T) {
	fake := newFake(t)
	cc := DefaultConsumeConfig()
	cc.Brokers = fake.ListenAddrs()
	cc.Topic = "missing"
	cc.Records = 1
	if _, err := Consume(testCtx(t), cc); err == nil || !strings.Contains(err.Error(), "UNKNOWN_TOPIC") {
		t.Fatalf("err %v: want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
}
