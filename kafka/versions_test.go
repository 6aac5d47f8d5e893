package kafka

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

// Every version of every served API round-trips against a real broker: the
// request encodes, the answer decodes at the same version, and carries no
// error where none is expected. This catches version-gated fields that old
// or new clients would trip over.
func TestEveryVersion(t *testing.T) {
	kc := newKafkaCluster(t, 1, Config{AutoCreateTopics: true, DefaultPartitions: 1})
	kc.CreateTopic(t, "v", engine.TopicConfig{Partitions: 1})
	var topicID [16]byte
	for _, ti := range kc.Engine(1).Metadata().Topics {
		if ti.Name == "v" {
			topicID = ti.ID
		}
	}
	rc := dialRaw(t, kc.addrs[1])
	batch := engine.EncodeBatch([]engine.Record{{Key: []byte("k"), Value: []byte("v")}}, time.Now())

	build := map[int16]func(v int16) kmsg.Request{
		0: func(v int16) kmsg.Request {
			r := kmsg.NewPtrProduceRequest()
			r.Acks, r.TimeoutMillis = -1, 10000
			t := kmsg.NewProduceRequestTopic()
			t.Topic = "v"
			p := kmsg.NewProduceRequestTopicPartition()
			p.Records = batch
			t.Partitions = append(t.Partitions, p)
			r.Topics = append(r.Topics, t)
			return r
		},
		1: func(v int16) kmsg.Request {
			r := kmsg.NewPtrFetchRequest()
			r.MaxWaitMillis = 10
			t := kmsg.NewFetchRequestTopic()
			t.Topic, t.TopicID = "v", topicID
			p := kmsg.NewFetchRequestTopicPartition()
			p.PartitionMaxBytes = 1 << 20
			t.Partitions = append(t.Partitions, p)
			r.Topics = append(r.Topics, t)
			return r
		},
		2: func(v int16) kmsg.Request {
			r := kmsg.NewPtrListOffsetsRequest()
			t := kmsg.NewListOffsetsRequestTopic()
			t.Topic = "v"
			p := kmsg.NewListOffsetsRequestTopicPartition()
			p.Timestamp = -1
			t.Partitions = append(t.Partitions, p)
			r.Topics = append(r.Topics, t)
			return r
		},
		3: func(v int16) kmsg.Request {
			r := kmsg.NewPtrMetadataRequest()
			t := kmsg.NewMetadataRequestTopic()
			t.Topic = kmsg.StringPtr("v")
			r.Topics = append(r.Topics, t)
			return r
		},
		18: func(v int16) kmsg.Request {
			r := kmsg.NewPtrApiVersionsRequest()
			r.ClientSoftwareName, r.ClientSoftwareVersion = "test", "1"
			return r
		},
		19: func(v int16) kmsg.Request {
			r := kmsg.NewPtrCreateTopicsRequest()
			t := kmsg.NewCreateTopicsRequestTopic()
			t.Topic = fmt.Sprintf("created-v%d", v)
			t.NumPartitions, t.ReplicationFactor = 1, 1
			r.Topics = append(r.Topics, t)
			return r
		},
		20: func(v int16) kmsg.Request {
			r := kmsg.NewPtrDeleteTopicsRequest()
			name := fmt.Sprintf("created-v%d", min(max(v+1, 2), 7))
			r.TopicNames = []string{name}
			t := kmsg.NewDeleteTopicsRequestTopic()
			t.Topic = &name
			r.Topics = append(r.Topics, t)
			return r
		},
		22: func(v int16) kmsg.Request { return kmsg.NewPtrInitProducerIDRequest() },
		23: func(v int16) kmsg.Request { return epochRequest(v, "v", 0, -1, 0) },
		27: func(v int16) kmsg.Request {
			return markerReq(v, 100+int64(v), 0, true, 0, map[string][]int32{"v": {0}})
		},
		32: func(v int16) kmsg.Request {
			r := kmsg.NewPtrDescribeConfigsRequest()
			res := kmsg.NewDescribeConfigsRequestResource()
			res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "v"
			r.Resources = append(r.Resources, res)
			return r
		},
		60: func(v int16) kmsg.Request { return kmsg.NewPtrDescribeClusterRequest() },
		61: func(v int16) kmsg.Request {
			r := kmsg.NewPtrDescribeProducersRequest()
			t := kmsg.NewDescribeProducersRequestTopic()
			t.Topic, t.Partitions = "v", []int32{0}
			r.Topics = append(r.Topics, t)
			return r
		},
		29: func(v int16) kmsg.Request {
			r := kmsg.NewPtrDescribeACLsRequest()
			r.ResourceType, r.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
			r.Operation, r.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			return r
		},
		30: func(v int16) kmsg.Request {
			r := kmsg.NewPtrCreateACLsRequest()
			c := kmsg.NewCreateACLsRequestCreation()
			c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, "v", kmsg.ACLResourcePatternTypeLiteral
			c.Principal, c.Host = fmt.Sprintf("User:v%d", v), "*"
			c.Operation, c.PermissionType = kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
			r.Creations = append(r.Creations, c)
			return r
		},
		31: func(v int16) kmsg.Request {
			r := kmsg.NewPtrDeleteACLsRequest()
			f := kmsg.NewDeleteACLsRequestFilter()
			f.ResourceType, f.ResourceName, f.ResourcePatternType = kmsg.ACLResourceTypeTopic, kmsg.StringPtr("v"), kmsg.ACLResourcePatternTypeLiteral
			f.Principal = kmsg.StringPtr(fmt.Sprintf("User:v%d", v))
			f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			r.Filters = append(r.Filters, f)
			return r
		},
		// Refused (see responseErrors): an unknown broker, a voter without
		// a listener; the round trip checks the encodings.
		64: func(v int16) kmsg.Request {
			r := kmsg.NewPtrUnregisterBrokerRequest()
			r.BrokerID = 77
			return r
		},
		80: func(v int16) kmsg.Request {
			r := kmsg.NewPtrAddRaftVoterRequest()
			r.VoterID = 77
			return r
		},
		66: func(v int16) kmsg.Request {
			r := kmsg.NewPtrListTransactionsRequest()
			r.StateFilters = []string{"Ongoing"}
			return r
		},
	}
	for _, h := range registeredKeys() {
		mk, ok := build[h.key]
		if !ok {
			// Keys served elsewhere (the group coordinator) test their own
			// versions.
			t.Logf("no request builder for %s", kmsg.NameForKey(h.key))
			continue
		}
		for v := h.min; v <= h.max; v++ {
			req := mk(v)
			req.SetVersion(v)
			corr := rc.send(req)
			resp := req.ResponseKind()
			resp.SetVersion(v)
			rc.recv(corr, resp)
			if errs := responseErrors(resp); len(errs) > 0 {
				t.Errorf("%s v%d: %v", kmsg.NameForKey(h.key), v, errs)
			}
		}
	}
}

// responseErrors collects the error codes of the responses TestEveryVersion
// checks.
func responseErrors(resp kmsg.Response) []error {
	var errs []error
	add := func(code int16) {
		if code != 0 {
			errs = append(errs, kerr.ErrorForCode(code))
		}
	}
	switch r := resp.(type) {
	case *kmsg.UnregisterBrokerResponse:
		if r.ErrorCode != kerr.BrokerIDNotRegistered.Code {
			errs = append(errs, fmt.Errorf("unregister an unknown broker: %v, want BROKER_ID_NOT_REGISTERED", kerr.ErrorForCode(r.ErrorCode)))
		}
	case *kmsg.AddRaftVoterResponse:
		if r.ErrorCode != kerr.InvalidRequest.Code {
			errs = append(errs, fmt.Errorf("add a voter without a listener: %v, want INVALID_REQUEST", kerr.ErrorForCode(r.ErrorCode)))
		}
	case *kmsg.DescribeACLsResponse:
		add(r.ErrorCode)
	case *kmsg.CreateACLsResponse:
		for _, res := range r.Results {
			add(res.ErrorCode)
		}
	case *kmsg.DeleteACLsResponse:
		for _, res := range r.Results {
			add(res.ErrorCode)
			if len(res.MatchingACLs) != 1 {
				errs = append(errs, fmt.Errorf("deleted %d acls, want 1", len(res.MatchingACLs)))
			}
		}
	case *kmsg.ProduceResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				add(p.ErrorCode)
			}
		}
	case *kmsg.FetchResponse:
		add(r.ErrorCode)
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				add(p.ErrorCode)
				if len(p.RecordBatches) == 0 {
					errs = append(errs, fmt.Errorf("no records"))
				}
			}
		}
	case *kmsg.WriteTxnMarkersResponse:
		for _, m := range r.Markers {
			for _, t := range m.Topics {
				for _, p := range t.Partitions {
					add(p.ErrorCode)
				}
			}
		}
	case *kmsg.ListOffsetsResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				add(p.ErrorCode)
			}
		}
	case *kmsg.MetadataResponse:
		for _, t := range r.Topics {
			add(t.ErrorCode)
		}
	case *kmsg.ApiVersionsResponse:
		add(r.ErrorCode)
	case *kmsg.CreateTopicsResponse:
		for _, t := range r.Topics {
			add(t.ErrorCode)
		}
	case *kmsg.DeleteTopicsResponse:
		for _, t := range r.Topics {
			add(t.ErrorCode)
		}
	case *kmsg.InitProducerIDResponse:
		add(r.ErrorCode)
	case *kmsg.OffsetForLeaderEpochResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				add(p.ErrorCode)
			}
		}
	case *kmsg.DescribeConfigsResponse:
		for _, res := range r.Resources {
			add(res.ErrorCode)
		}
	case *kmsg.DescribeClusterResponse:
		add(r.ErrorCode)
	case *kmsg.DescribeProducersResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				add(p.ErrorCode)
			}
		}
	case *kmsg.ListTransactionsResponse:
		add(r.ErrorCode)
	}
	return errs
}
