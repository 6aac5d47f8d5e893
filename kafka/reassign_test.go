package kafka

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// Reassignment through kadm on 3 brokers: bad requests get Kafka's error
// codes; a move of an RF 2 partition onto another broker finishes and keeps
// the records; a move onto a broker that is down stays listed with its
// adding and removing replicas until kadm cancels it, which puts the
// partition back on its brokers.
func TestPartitionReassignmentsKadm(t *testing.T) {
	t.Parallel() // mostly waiting
	kc := newKafkaCluster(t, 3, Config{})
	kc.CreateTopic(t, "kmv", engine.TopicConfig{Partitions: 1, ReplicationFactor: 2})
	kc.WaitLeader(t, "kmv", 0, 5*time.Second)
	adm := kc.admin(t)
	ctx := testCtx(t, time.Minute)
	av := roundTrip[*kmsg.ApiVersionsResponse](dialRaw(t, kc.addrs[1]), kmsg.NewPtrApiVersionsRequest())
	advertised := map[int16]int16{}
	for _, k := range av.ApiKeys {
		advertised[k.ApiKey] = k.MaxVersion
	}
	if v45, ok45 := advertised[45]; !ok45 || v45 != 1 {
		t.Errorf("ApiVersions: AlterPartitionReassignments max %d (advertised %v), want 1", v45, ok45)
	}
	if _, ok46 := advertised[46]; !ok46 {
		t.Error("ApiVersions does not advertise ListPartitionReassignments")
	}
	cl := kc.client(t)
	for i := 0; i < 20; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "kmv", Value: []byte("before")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	replicas := func() []int32 {
		td, err := adm.ListTopics(ctx, "kmv")
		if err != nil {
			t.Fatal(err)
		}
		return td["kmv"].Partitions[0].Replicas
	}
	old := replicas()
	var spare int32
	for b := int32(1); b <= 3; b++ {
		if !slices.Contains(old, b) {
			spare = b
		}
	}

	alter := func(ctx2 context.Context, topic string, p int32, brokers []int32) (error, string) {
		req := kadm.AlterPartitionAssignmentsReq{}
		if brokers == nil {
			req.CancelAssign(topic, p)
		} else {
			req.Assign(topic, p, brokers)
		}
		rs, err := adm.AlterPartitionAssignments(ctx2, req)
		if err != nil {
			t.Fatalf("alter %s/%d %v: %v", topic, p, brokers, err)
		}
		r := rs[topic][p]
		return r.Err, r.ErrMessage
	}
	for _, tc := range []struct {
		name    string
		ctx     context.Context
		topic   string
		p       int32
		brokers []int32
		want    *kerr.Error
	}{
		{"unknown topic", ctx, "nope", 0, []int32{1, 2}, kerr.UnknownTopicOrPartition},
		{"unknown partition", ctx, "kmv", 3, []int32{1, 2}, kerr.UnknownTopicOrPartition},
		{"duplicate", ctx, "kmv", 0, []int32{1, 1}, kerr.InvalidReplicaAssignment},
		{"unknown broker", ctx, "kmv", 0, []int32{1, 9}, kerr.InvalidReplicaAssignment},
		{"empty", ctx, "kmv", 0, []int32{}, kerr.InvalidReplicaAssignment},
		{"cancel of nothing", ctx, "kmv", 0, nil, kerr.NoReassignmentInProgress},
		{"rf change forbidden", kadm.ForbidAlterRf(ctx), "kmv", 0, []int32{1, 2, 3}, kerr.InvalidReplicationFactor},
	} {
		if err, msg := alter(tc.ctx, tc.topic, tc.p, tc.brokers); !errors.Is(err, tc.want) || msg == "" {
			t.Errorf("%s: %v (%q), want %s with a message", tc.name, err, msg, tc.want.Message)
		}
	}

	target := []int32{old[1], spare}
	if err, msg := alter(ctx, "kmv", 0, target); err != nil {
		t.Fatalf("reassign %v -> %v: %v %s", old, target, err, msg)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ls, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{"kmv": {0: {}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(ls["kmv"]) == 0 && slices.Equal(replicas(), target) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reassignment to %v not done: listed %+v, replicas %v", target, ls, replicas())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := 0; i < 20; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "kmv", Value: []byte("after")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	consumer := kc.client(t, kgo.ConsumeTopics("kmv"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var values []string
	for len(values) < 40 && ctx.Err() == nil {
		fs := consumer.PollFetches(ctx)
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) { values = append(values, string(r.Value)) })
	}
	if len(values) != 40 || values[0] != "before" || values[39] != "after" {
		t.Fatalf("read %d records after the move (%v...), want 20 before and 20 after", len(values), values[:min(len(values), 3)])
	}

	// A destination that is down: the new replica never catches up, so
	// the reassignment stays listed until it is cancelled.
	down := int(old[0])
	kc.Kill(down)
	kc.servers[down].Close()
	stuck := []int32{target[0], target[1], int32(down)}
	if err, msg := alter(ctx, "kmv", 0, stuck); err != nil {
		t.Fatalf("reassign onto the stopped broker %d: %v %s", down, err, msg)
	}
	var got kadm.ListPartitionReassignmentsResponse
	deadline = time.Now().Add(10 * time.Second)
	for {
		ls, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{"kmv": {0: {}}})
		if err != nil {
			t.Fatal(err)
		}
		got = ls["kmv"][0]
		if slices.Equal(got.Replicas, stuck) && slices.Equal(got.AddingReplicas, []int32{int32(down)}) && len(got.RemovingReplicas) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("listed %+v, want replicas %v adding [%d] removing none", got, stuck, down)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err, msg := alter(ctx, "kmv", 0, nil); err != nil {
		t.Fatalf("cancel: %v %s", err, msg)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		ls, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{"kmv": {0: {}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(ls["kmv"]) == 0 && slices.Equal(replicas(), target) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cancel not done: listed %+v, replicas %v", ls, replicas())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// AlterPartitionReassignments needs Alter on the cluster and
// ListPartitionReassignments Describe on it; a principal with neither gets
// CLUSTER_AUTHORIZATION_FAILED for the whole request and nothing moves.
func TestPartitionReassignmentsAuthz(t *testing.T) {
	t.Parallel() // mostly waiting on its own cluster
	kc := newKafkaCluster(t, 1, authzConfig())
	admin := adminAs(t, kc, "admin")
	ctx := testCtx(t, 30*time.Second)
	if _, err := admin.CreateTopics(ctx, 1, 1, nil, "locked"); err != nil {
		t.Fatal(err)
	}
	alice := as(t, kc.addrs[1], "alice")
	alter := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = "locked"
	rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	rp.Replicas = []int32{1}
	rt.Partitions = append(rt.Partitions, rp)
	alter.Topics = append(alter.Topics, rt)
	wantCode(t, "alter reassignments", roundTrip[*kmsg.AlterPartitionAssignmentsResponse](alice, alter).ErrorCode, kerr.ClusterAuthorizationFailed)
	list := kmsg.NewPtrListPartitionReassignmentsRequest()
	wantCode(t, "list reassignments", roundTrip[*kmsg.ListPartitionReassignmentsResponse](alice, list).ErrorCode, kerr.ClusterAuthorizationFailed)
	// The super user may (a reorder of the one replica: done at once).
	wantCode(t, "alter reassignments as admin", roundTrip[*kmsg.AlterPartitionAssignmentsResponse](as(t, kc.addrs[1], "admin"), alter).Topics[0].Partitions[0].ErrorCode, nil)
	wantCode(t, "list reassignments as admin", roundTrip[*kmsg.ListPartitionReassignmentsResponse](as(t, kc.addrs[1], "admin"), list).ErrorCode, nil)
}
