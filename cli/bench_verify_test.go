package cli

import (
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newFake(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestBenchVerifyPasses(t *testing.T) {
	fake := newFake(t)
	out, err := runApp(t, "bench", "verify", "--brokers", fake.ListenAddrs()[0], "--duration", "500ms",
		"--partitions", "2", "--rate", "1000", "--record-size", "32", "--json", "-q")
	if err != nil {
		t.Fatalf("bench verify: %v\n%s", err, out)
	}
	var r struct {
		OK     bool `json:"ok"`
		Totals struct {
			Sent, Acked, Lost int64
		} `json:"totals"`
		Settings map[string]string `json:"settings"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("JSON: %v\n%s", err, out)
	}
	if !r.OK || r.Totals.Acked == 0 || r.Totals.Acked != r.Totals.Sent || r.Totals.Lost != 0 {
		t.Errorf("report %+v: want ok, everything acknowledged, nothing lost", r)
	}
	if r.Settings["partitions"] != "2" || r.Settings["idempotent"] != "true" || r.Settings["record-size"] != "32" {
		t.Errorf("settings %v", r.Settings)
	}
}

func TestBenchVerifyTransactional(t *testing.T) {
	fake := newFake(t)
	out, err := runApp(t, "bench", "verify", "--brokers", fake.ListenAddrs()[0], "--duration", "500ms",
		"--partitions", "2", "--rate", "1000", "--transactional", "--txn-records", "20", "--abort-every", "2", "--json", "-q")
	if err != nil {
		t.Fatalf("bench verify --transactional: %v\n%s", err, out)
	}
	var r struct {
		OK            bool `json:"ok"`
		Transactional bool `json:"transactional"`
		Transactions  struct {
			Committed, Aborted int64
		} `json:"transactions"`
		Totals struct {
			TxnAborted  int64 `json:"txn_aborted"`
			AbortedSeen int64 `json:"aborted_seen"`
		} `json:"totals"`
		Settings map[string]string `json:"settings"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("JSON: %v\n%s", err, out)
	}
	// 500 records in transactions of 20, every second aborted.
	if !r.OK || !r.Transactional || r.Transactions.Committed < 8 || r.Transactions.Aborted < 8 || r.Totals.TxnAborted == 0 || r.Totals.AbortedSeen != 0 {
		t.Errorf("report %+v: want ok, about 12 transactions committed and 12 aborted, no aborted record seen", r)
	}
	if r.Settings["transactional"] != "true" || r.Settings["txn-records"] != "20" || r.Settings["abort-every"] != "2" {
		t.Errorf("settings %v", r.Settings)
	}
}

// TestBenchVerifyFails checks the exit path of a failed check: the report
// is printed, and the command returns an error that says why.
func TestBenchVerifyFails(t *testing.T) {
	fake := newFake(t)
	var n atomic.Int64
	// Acknowledge the tenth produce request without writing it.
	fake.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		fake.KeepControl()
		if n.Add(1) != 10 {
			return nil, nil, false
		}
		r := req.(*kmsg.ProduceRequest)
		resp := r.ResponseKind().(*kmsg.ProduceResponse)
		for _, tp := range r.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic, rt.TopicID = tp.Topic, tp.TopicID
			for _, p := range tp.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition, rp.BaseOffset = p.Partition, 1<<30
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	out, err := runApp(t, "bench", "verify", "--brokers", fake.ListenAddrs()[0], "--duration", "500ms",
		"--partitions", "2", "--rate", "1000", "--idempotent=false", "-q")
	if !errors.Is(err, errVerifyFailed) || !strings.Contains(err.Error(), "acknowledged records lost") {
		t.Fatalf("err %v, want a failed check naming lost records\n%s", err, out)
	}
	for _, want := range []string{"result: FAILED", "finding: lost", "idempotent=false", "(allowed: producers not idempotent)"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchVerifyFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--read-passes", "9"}, "ReadPasses 9"},
		{[]string{"--rate", "-5"}, "Rate -5"},
		{[]string{"--duration", "0s"}, "Duration 0s"},
		{[]string{"--record-size", "lots"}, "--record-size"},
		{[]string{"--topic", "a b"}, `Topic "a b"`},
		{[]string{"--embedded"}, "--brokers and --embedded exclude each other"},
		{[]string{"--nodes", "3"}, "--nodes, --dir and --logdb need --embedded"},
		{[]string{"--transactional", "--idempotent=false"}, "Transactional true with Idempotent false"},
		{[]string{"--transactional", "--txn-records", "-1"}, "TxnRecords -1"},
		{[]string{"--transactional", "--abort-every", "-2"}, "AbortEvery -2"},
	} {
		// Port 1 on loopback: nothing must be dialled before validation fails.
		args := append([]string{"bench", "verify", "--brokers", "127.0.0.1:1", "-q"}, tc.args...)
		if _, err := runApp(t, args...); err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, errVerifyFailed) {
			t.Errorf("%v: err %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}
