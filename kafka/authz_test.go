package kafka

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
	"github.com/chronik-io/chronik/engine"
)

// principalByClientID is the test principal hook: a connection is
// "User:<client id>".
func principalByClientID(_ net.Conn, clientID string) string { return "User:" + clientID }

// authzConfig enables authorization with User:admin as the super user and
// principals taken from client ids.
func authzConfig() Config {
	return Config{AutoCreateTopics: true, DefaultPartitions: 1, principalFor: principalByClientID,
		Authz: AuthzConfig{Enabled: true, SuperUsers: []string{"User:admin"}}}
}

// as is a raw connection to addr whose requests carry clientID, so the
// principal hook makes them User:<clientID>.
func as(t *testing.T, addr, clientID string) *rawConn {
	rc := dialRaw(t, addr)
	rc.clientID = clientID
	return rc
}

// adminAs is a kadm client whose connections are User:<clientID>.
func adminAs(t *testing.T, kc *kafkaCluster, clientID string, seeds ...string) *kadm.Client {
	if len(seeds) == 0 {
		seeds = kc.seeds()
	}
	return kadm.NewClient(kc.client(t, kgo.ClientID(clientID), kgo.SeedBrokers(seeds...)))
}

func produceCode(t *testing.T, rc *rawConn, topic string) int16 {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	p := kmsg.NewProduceRequestTopicPartition()
	p.Records = engine.EncodeBatch([]engine.Record{{Value: []byte("v")}}, time.Now())
	rt.Partitions = append(rt.Partitions, p)
	req.Topics = append(req.Topics, rt)
	return roundTrip[*kmsg.ProduceResponse](rc, req).Topics[0].Partitions[0].ErrorCode
}

func fetchCode(t *testing.T, rc *rawConn, topic string) int16 {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxWaitMillis, req.MaxBytes = 12, 10, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	p := kmsg.NewFetchRequestTopicPartition()
	p.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, p)
	req.Topics = append(req.Topics, rt)
	return roundTrip[*kmsg.FetchResponse](rc, req).Topics[0].Partitions[0].ErrorCode
}

// metadataTopics lists the topics a Metadata of every topic shows.
func metadataTopics(t *testing.T, rc *rawConn) []string {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	var out []string
	for _, mt := range roundTrip[*kmsg.MetadataResponse](rc, req).Topics {
		out = append(out, *mt.Topic)
	}
	slices.Sort(out)
	return out
}

func metadataCode(t *testing.T, rc *rawConn, topic string) int16 {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, mt)
	return roundTrip[*kmsg.MetadataResponse](rc, req).Topics[0].ErrorCode
}

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	wantCode := int16(0)
	if want != nil {
		wantCode = want.Code
	}
	if got != wantCode {
		t.Fatalf("%s: error %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

func createACLs(t *testing.T, adm *kadm.Client, b *kadm.ACLBuilder) {
	t.Helper()
	res, err := adm.CreateACLs(testCtx(t, 20*time.Second), b)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("create acl %+v: %v", r, r.Err)
		}
	}
}

// A principal without ACLs is refused everything; ACLs then grant exactly
// what they name; a deny wins over an allow; a super user is never denied.
func TestAuthzEndToEnd(t *testing.T) {
	t.Parallel() // mostly waiting on its own cluster
	kc := newKafkaCluster(t, 1, authzConfig())
	addr := kc.addrs[1]
	admin := adminAs(t, kc, "admin")
	ctx := testCtx(t, 30*time.Second)
	if _, err := admin.CreateTopics(ctx, 1, 1, nil, "orders-eu", "orders-us", "payments"); err != nil {
		t.Fatal(err)
	}
	alice := as(t, addr, "alice")

	// No ACLs: nothing is allowed.
	wantCode(t, "produce", produceCode(t, alice, "orders-eu"), kerr.TopicAuthorizationFailed)
	wantCode(t, "fetch", fetchCode(t, alice, "orders-eu"), kerr.TopicAuthorizationFailed)
	wantCode(t, "metadata of a named topic", metadataCode(t, alice, "orders-eu"), kerr.TopicAuthorizationFailed)
	if got := metadataTopics(t, alice); len(got) != 0 {
		t.Fatalf("metadata shows %v, want no topics", got)
	}
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version, join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = 9, "g", 10000, 10000, "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0}}}
	wantCode(t, "join group", roundTrip[*kmsg.JoinGroupResponse](alice, join).ErrorCode, kerr.GroupAuthorizationFailed)
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Version = 7
	ctt := kmsg.NewCreateTopicsRequestTopic()
	ctt.Topic, ctt.NumPartitions, ctt.ReplicationFactor = "alice-new", 1, 1
	ct.Topics = append(ct.Topics, ctt)
	wantCode(t, "create topic", roundTrip[*kmsg.CreateTopicsResponse](alice, ct).Topics[0].ErrorCode, kerr.TopicAuthorizationFailed)
	wantCode(t, "metadata auto-create", metadataCode(t, alice, "alice-auto"), kerr.TopicAuthorizationFailed)
	acls := kmsg.NewPtrDescribeACLsRequest()
	acls.Version = 3
	acls.ResourceType, acls.ResourcePatternType, acls.Operation, acls.PermissionType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	wantCode(t, "describe acls", roundTrip[*kmsg.DescribeACLsResponse](alice, acls).ErrorCode, kerr.ClusterAuthorizationFailed)
	res, err := kadm.NewClient(kc.client(t, kgo.ClientID("alice"))).CreateACLs(ctx, kadm.NewACLs().Allow("User:alice").Topics("x").Operations(kadm.OpRead))
	if err != nil || len(res) != 1 || !isKerr(res[0].Err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("alice creates an acl: %+v, %v; want CLUSTER_AUTHORIZATION_FAILED", res, err)
	}

	// Allow Write on the prefix "orders-": only those topics.
	createACLs(t, admin, kadm.NewACLs().Allow("User:alice").Topics("orders-").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpWrite))
	wantCode(t, "produce to orders-eu", produceCode(t, alice, "orders-eu"), nil)
	wantCode(t, "produce to payments", produceCode(t, alice, "payments"), kerr.TopicAuthorizationFailed)
	wantCode(t, "fetch with Write only", fetchCode(t, alice, "orders-eu"), kerr.TopicAuthorizationFailed)
	if got, want := metadataTopics(t, alice), []string{"orders-eu", "orders-us"}; !slices.Equal(got, want) {
		t.Fatalf("metadata shows %v, want %v (Write implies Describe)", got, want)
	}
	// A kgo idempotent producer: InitProducerId passes on Write to some topic.
	cl := kc.client(t, kgo.ClientID("alice"), kgo.RecordRetries(2))
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders-us", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("kgo produce to orders-us: %v", err)
	}

	// A deny wins over the prefixed allow.
	createACLs(t, admin, kadm.NewACLs().Deny("User:alice").Topics("orders-eu").Operations(kadm.OpWrite))
	wantCode(t, "produce to denied orders-eu", produceCode(t, alice, "orders-eu"), kerr.TopicAuthorizationFailed)
	wantCode(t, "produce to orders-us", produceCode(t, alice, "orders-us"), nil)

	// A super user is never denied, not even by a deny of everyone.
	createACLs(t, admin, kadm.NewACLs().Deny("User:*").Topics("*").Operations(kadm.OpAll))
	wantCode(t, "alice after deny all", produceCode(t, alice, "orders-us"), kerr.TopicAuthorizationFailed)
	root := as(t, addr, "admin")
	wantCode(t, "admin produce", produceCode(t, root, "payments"), nil)
	wantCode(t, "admin fetch", fetchCode(t, root, "payments"), nil)

	// Describe lists what was created; Delete removes it.
	n := 0
	for _, res := range roundTrip[*kmsg.DescribeACLsResponse](root, acls).Resources {
		n += len(res.ACLs)
	}
	if n != 3 {
		t.Fatalf("described %d acls, want 3", n)
	}
	deleted, err := admin.DeleteACLs(ctx, kadm.NewACLs().Deny("User:*").DenyHosts().Topics("*").Operations(kadm.OpAll))
	if err != nil || len(deleted) != 1 || len(deleted[0].Deleted) != 1 {
		t.Fatalf("delete: %+v, %v", deleted, err)
	}
	wantCode(t, "alice after the deny is deleted", produceCode(t, alice, "orders-us"), nil)
}

// Group APIs need Read on the group, committed topics Read on the topic.
func TestAuthzGroups(t *testing.T) {
	t.Parallel() // mostly waiting on its own cluster
	kc := newKafkaCluster(t, 1, authzConfig())
	admin := adminAs(t, kc, "admin")
	ctx := testCtx(t, 30*time.Second)
	if _, err := admin.CreateTopics(ctx, 1, 1, nil, "events"); err != nil {
		t.Fatal(err)
	}
	bob := adminAs(t, kc, "bob")
	rbob := as(t, kc.addrs[1], "bob")
	find := kmsg.NewPtrFindCoordinatorRequest()
	find.Version, find.CoordinatorKey = 3, "bobs"
	wantCode(t, "find coordinator", roundTrip[*kmsg.FindCoordinatorResponse](rbob, find).ErrorCode, kerr.GroupAuthorizationFailed)
	commit := func() int16 {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version, req.Group, req.Generation = 8, "bobs", -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "events"
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		rt.Partitions = append(rt.Partitions, p)
		req.Topics = append(req.Topics, rt)
		deadline := time.Now().Add(10 * time.Second)
		for {
			roundTrip[*kmsg.FindCoordinatorResponse](rbob, find) // creates the offsets topic
			code := roundTrip[*kmsg.OffsetCommitResponse](rbob, req).Topics[0].Partitions[0].ErrorCode
			if e := kerr.ErrorForCode(code); e == nil || !kerr.IsRetriable(e) || time.Now().After(deadline) {
				return code
			}
			time.Sleep(20 * time.Millisecond) // the offsets topic is still starting
		}
	}
	wantCode(t, "commit without acls", commit(), kerr.GroupAuthorizationFailed)
	createACLs(t, admin, kadm.NewACLs().Allow("User:bob").Groups("bobs").Operations(kadm.OpRead))
	wantCode(t, "commit with the group acl only", commit(), kerr.TopicAuthorizationFailed)
	createACLs(t, admin, kadm.NewACLs().Allow("User:bob").Topics("events").Operations(kadm.OpRead))
	wantCode(t, "commit with both acls", commit(), nil)
	// ListGroups shows bob only the groups he may Describe.
	createACLs(t, admin, kadm.NewACLs().Allow("User:admin2").Groups("bobs").Operations(kadm.OpRead))
	listed, err := bob.ListGroups(ctx)
	if err != nil || len(listed.Groups()) != 1 {
		t.Fatalf("bob lists %v, %v; want [bobs]", listed.Groups(), err)
	}
	carol, err := adminAs(t, kc, "carol").ListGroups(ctx)
	if err != nil || len(carol.Groups()) != 0 {
		t.Fatalf("carol lists %v, %v; want none", carol.Groups(), err)
	}

	// KIP-848: Read on the group, Describe on every subscribed topic.
	hb := func(group string, topics ...string) int16 {
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.Group, req.MemberID, req.RebalanceTimeoutMillis = group, "bob-848", 5000
		req.SubscribedTopicNames, req.Topics = topics, []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		return roundTrip[*kmsg.ConsumerGroupHeartbeatResponse](rbob, req).ErrorCode
	}
	wantCode(t, "consumer group heartbeat without a group acl", hb("bobs848", "events"), kerr.GroupAuthorizationFailed)
	createACLs(t, admin, kadm.NewACLs().Allow("User:bob").Groups("bobs848").Operations(kadm.OpRead))
	wantCode(t, "consumer group heartbeat subscribing to a topic bob may not describe", hb("bobs848", "events", "secret"), kerr.TopicAuthorizationFailed)
	wantCode(t, "consumer group heartbeat with both acls", hb("bobs848", "events"), nil)
	describe := func(r *rawConn) int16 {
		req := kmsg.NewPtrConsumerGroupDescribeRequest()
		req.Groups = []string{"bobs848"}
		return roundTrip[*kmsg.ConsumerGroupDescribeResponse](r, req).Groups[0].ErrorCode
	}
	wantCode(t, "consumer group describe by carol", describe(as(t, kc.addrs[1], "carol")), kerr.GroupAuthorizationFailed)
	createACLs(t, admin, kadm.NewACLs().Allow("User:bob").Groups("bobs848").Operations(kadm.OpDescribe))
	wantCode(t, "consumer group describe by bob", describe(rbob), nil)
}

func isKerr(err error, want *kerr.Error) bool {
	var ke *kerr.Error
	for e := err; e != nil; {
		if k, ok := e.(*kerr.Error); ok {
			ke = k
			break
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	return ke != nil && ke.Code == want.Code
}

// ACLs created through broker 1 are enforced on broker 3, and survive a
// restart of broker 3.
func TestAuthzReplicated(t *testing.T) {
	t.Parallel() // mostly waiting on its own cluster
	cfg := authzConfig()
	kc := newKafkaCluster(t, 3, cfg)
	ctx := testCtx(t, 60*time.Second)
	admin := adminAs(t, kc, "admin", kc.addrs[1])
	if _, err := admin.CreateTopics(ctx, 1, 3, nil, "shared"); err != nil {
		t.Fatal(err)
	}
	on3 := as(t, kc.addrs[3], "dave")
	wantCode(t, "metadata on broker 3 before the acl", metadataCode(t, on3, "shared"), kerr.TopicAuthorizationFailed)
	createACLs(t, admin, kadm.NewACLs().Allow("User:dave").Topics("shared").Operations(kadm.OpDescribe))
	deadline := time.Now().Add(10 * time.Second)
	for metadataCode(t, on3, "shared") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("broker 3 still refuses dave 10s after the acl was created on broker 1")
		}
		time.Sleep(20 * time.Millisecond)
	}

	kc.Restart(3)
	want := acl.Binding{ResourceType: acl.Topic, ResourceName: "shared", PatternType: acl.Literal, Principal: "User:dave", Host: "*", Operation: acl.Describe, Permission: acl.Allow}
	all := acl.Filter{ResourceType: acl.ResourceAny, PatternType: acl.PatternAny, Operation: acl.OpAny, Permission: acl.PermissionAny}
	if got := kc.Engine(3).ACLs(all); !slices.Equal(got, []acl.Binding{want}) {
		t.Fatalf("broker 3 after restart has %v, want [%v]", got, want)
	}
	// A server over the restarted engine enforces them at once.
	_, addr := serve(t, engineBackend{kc.Engine(3)}, cfg)
	wantCode(t, "metadata on restarted broker 3", metadataCode(t, as(t, addr, "dave"), "shared"), nil)
	wantCode(t, "another principal on restarted broker 3", metadataCode(t, as(t, addr, "eve"), "shared"), kerr.TopicAuthorizationFailed)
}

// With authorization off (the default) every principal is allowed, whatever
// the ACLs say.
func TestAuthzDisabled(t *testing.T) {
	cfg := authzConfig()
	cfg.Authz.Enabled = false
	kc := newKafkaCluster(t, 1, cfg)
	createACLs(t, adminAs(t, kc, "anyone"), kadm.NewACLs().Deny("User:*").Topics("*").Operations(kadm.OpAll))
	wantCode(t, "produce", produceCode(t, as(t, kc.addrs[1], "alice"), "auto"), nil)
}
