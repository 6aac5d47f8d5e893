package kafka

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/engine"
)

func TestApiVersions(t *testing.T) {
	_, addr := serve(t, &stubBackend{err: engine.ErrNotReady}, Config{})
	rc := dialRaw(t, addr)
	for v := int16(0); v <= 4; v++ {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = v
		req.ClientSoftwareName, req.ClientSoftwareVersion = "chronik-test", "1.0"
		resp := roundTrip[*kmsg.ApiVersionsResponse](rc, req)
		if resp.ErrorCode != 0 {
			t.Fatalf("v%d: error %d", v, resp.ErrorCode)
		}
		want := map[int16][2]int16{0: {3, 11}, 1: {4, 16}, 2: {1, 8}, 3: {0, 12}, 18: {0, 4}, 19: {2, 7}, 20: {1, 6}, 22: {0, 4}, 32: {0, 4}, 60: {0, 1},
			68: {0, 1}, 69: {0, 1}, 76: {0, 1}, 77: {0, 1}, 78: {0, 2}, 79: {0, 2}, 90: {0, 1}, 91: {0, 0}, 92: {0, 0}}
		got := map[int16][2]int16{}
		for _, k := range resp.ApiKeys {
			got[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
		}
		for k, r := range want {
			if got[k] != r {
				t.Errorf("v%d: key %d (%s) versions %v, want %v", v, k, kmsg.NameForKey(k), got[k], r)
			}
		}
		// Kafka 4's features for KIP-848 groups and share groups (KIP-932),
		// from v3 on.
		wantFeatures := v >= 3
		gotFeatures := len(resp.FinalizedFeatures) == 2 && len(resp.SupportedFeatures) == 2 && resp.FinalizedFeaturesEpoch >= 0
		for i, name := range []string{"group.version", "share.version"} {
			gotFeatures = gotFeatures && resp.FinalizedFeatures[i].Name == name && resp.FinalizedFeatures[i].MaxVersionLevel == 1 &&
				resp.SupportedFeatures[i].Name == name && resp.SupportedFeatures[i].MaxVersion == 1
		}
		if gotFeatures != wantFeatures {
			t.Errorf("v%d: features %+v finalized %+v epoch %d", v, resp.SupportedFeatures, resp.FinalizedFeatures, resp.FinalizedFeaturesEpoch)
		}
	}
}

// A version newer than ours gets the KIP-511 v0 fallback, whatever the body.
func TestApiVersionsFallback(t *testing.T) {
	_, addr := serve(t, &stubBackend{}, Config{})
	rc := dialRaw(t, addr)
	frame := []byte{0, 0, 0, 0, 0, 18, 0, 99, 0, 0, 0, 7, 0, 1, 'x', 0xff, 0xfe, 0x01}
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	rc.write(frame)
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	rc.recv(7, resp)
	if resp.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("error %d, want UNSUPPORTED_VERSION", resp.ErrorCode)
	}
	if len(resp.ApiKeys) != 1 || resp.ApiKeys[0].ApiKey != 18 || resp.ApiKeys[0].MaxVersion != 4 {
		t.Fatalf("api keys %+v, want only ApiVersions 0-4", resp.ApiKeys)
	}
	// The connection stays usable.
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "a", "1"
	if r := roundTrip[*kmsg.ApiVersionsResponse](rc, req); r.ErrorCode != 0 || len(r.ApiKeys) < 10 {
		t.Fatalf("after fallback: error %d, %d keys", r.ErrorCode, len(r.ApiKeys))
	}
}

// Keys and versions outside the table answer UNSUPPORTED_VERSION in the
// response's own format and keep the connection.
func TestUnsupportedVersions(t *testing.T) {
	_, addr := serve(t, &stubBackend{}, Config{})
	rc := dialRaw(t, addr)

	md := kmsg.NewPtrMetadataRequest()
	md.Version = 13 // above our 12; v13 has a top-level ErrorCode
	if r := roundTrip[*kmsg.MetadataResponse](rc, md); r.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("Metadata v13: error %d, want UNSUPPORTED_VERSION", r.ErrorCode)
	}
	if _, served := handlers[48]; served {
		t.Fatal("DescribeClientQuotas is served now: pick another unserved key for this test")
	}
	da := kmsg.NewPtrDescribeClientQuotasRequest() // not served
	da.Version = 1
	if r := roundTrip[*kmsg.DescribeClientQuotasResponse](rc, da); r.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("DescribeClientQuotas: error %d, want UNSUPPORTED_VERSION", r.ErrorCode)
	}
	pr := kmsg.NewPtrProduceRequest()
	pr.Version = 2 // below our 3
	pr.Acks = 1
	r := roundTrip[*kmsg.ProduceResponse](rc, pr)
	_ = r
	// Still alive.
	av := kmsg.NewPtrApiVersionsRequest()
	if r := roundTrip[*kmsg.ApiVersionsResponse](rc, av); r.ErrorCode != 0 {
		t.Fatalf("ApiVersions after unsupported requests: error %d", r.ErrorCode)
	}
}

// Bad frames close only their own connection.
func TestBadFrames(t *testing.T) {
	_, addr := serve(t, &stubBackend{}, Config{MaxFrameBytes: 1 << 20})
	healthy := dialRaw(t, addr)

	cases := []struct {
		name  string
		bytes []byte
	}{
		{"2GiB length prefix", []byte{0x7f, 0xff, 0xff, 0xff}},
		{"just over the frame limit", binary.BigEndian.AppendUint32(nil, 1<<20+1)},
		{"negative length", []byte{0xff, 0xff, 0xff, 0xfe}},
		{"shorter than a header", []byte{0, 0, 0, 3, 0, 18, 0}},
		{"unknown API key", append([]byte{0, 0, 0, 10, 0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0, 0}, nil...)},
		{"truncated body", append([]byte{0, 0, 0, 30, 0, 3, 0, 9, 0, 0, 0, 1, 0, 0, 0}, 0, 0, 0, 9)},
		{"garbage Metadata body", []byte{0, 0, 0, 14, 0, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0x7f, 0xff, 0xff, 0xff}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, addr)
			rc.write(tc.bytes)
			if tc.name == "truncated body" {
				rc.c.(*net.TCPConn).CloseWrite()
			}
			rc.expectClosed()
			av := kmsg.NewPtrApiVersionsRequest()
			av.Version = 0
			if r := roundTrip[*kmsg.ApiVersionsResponse](healthy, av); r.ErrorCode != 0 {
				t.Fatalf("healthy connection: error %d", r.ErrorCode)
			}
		})
	}
}

// Pipelined requests are answered in order.
func TestPipelining(t *testing.T) {
	_, addr := serve(t, &stubBackend{err: engine.ErrUnknownTopic}, Config{})
	rc := dialRaw(t, addr)
	var frames []byte
	var kinds []kmsg.Request
	for i := 0; i < 30; i++ {
		var req kmsg.Request
		switch i % 3 {
		case 0:
			req = kmsg.NewPtrApiVersionsRequest()
		case 1:
			m := kmsg.NewPtrMetadataRequest()
			m.Version = 12
			req = m
		default:
			l := kmsg.NewPtrListOffsetsRequest()
			l.Version = 8
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = "t"
			rt.Partitions = []kmsg.ListOffsetsRequestTopicPartition{kmsg.NewListOffsetsRequestTopicPartition()}
			l.Topics = append(l.Topics, rt)
			req = l
		}
		frames = append(frames, encodeRequest(int32(100+i), "p", req)...)
		kinds = append(kinds, req)
	}
	rc.write(frames)
	for i, req := range kinds {
		resp := req.ResponseKind()
		resp.SetVersion(req.GetVersion())
		rc.recv(int32(100+i), resp)
		if l, ok := resp.(*kmsg.ListOffsetsResponse); ok {
			if got := l.Topics[0].Partitions[0].ErrorCode; got != kerr.UnknownTopicOrPartition.Code {
				t.Fatalf("ListOffsets error %d, want UNKNOWN_TOPIC_OR_PARTITION", got)
			}
		}
	}
}
