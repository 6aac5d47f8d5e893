package kafka

// ApiVersions: v0-4
//
// Behaviour:
//   - Lists every registered API key with its version range (registry.go).
//   - A version above 4 is answered at v0 with UNSUPPORTED_VERSION and only
//     ApiVersions' own range, without decoding the body (KIP-511), so the
//     client retries at a version both sides know.
//   - v3+: the client software name and version must match Kafka's pattern,
//     else INVALID_REQUEST.
//   - Authorization: none: every client may negotiate versions.
//
// Version notes:
//   - v1: ThrottleMillis
//   - v3: ClientSoftwareName, ClientSoftwareVersion, flexible versions
//   - v3+: SupportedFeatures and FinalizedFeatures: group.version 0-1,
//     finalized at 1 (the KIP-848 consumer group protocol is on, as in a
//     new Kafka 4 cluster), share.version 0-1 finalized at 1 (share groups,
//     KIP-932), FinalizedFeaturesEpoch 1. chronik has no other feature
//     flags.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(18, 0, 4, handleApiVersions) }

func handleApiVersions(s *Server, _ context.Context, r *request) (kmsg.Response, error) {
	resp := kmsg.NewPtrApiVersionsResponse()
	self := handlers[18]
	if r.version > self.max || r.kreq == nil {
		resp.Version = 0
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = 18, self.min, self.max
		resp.ApiKeys = append(resp.ApiKeys, k)
		return resp, nil
	}
	req := r.kreq.(*kmsg.ApiVersionsRequest)
	resp.Version = r.version
	if r.version >= 3 && (!validSoftwareName(req.ClientSoftwareName) || !validSoftwareName(req.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil
	}
	for _, h := range registeredKeys() {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = h.key, h.min, h.max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	if r.version >= 3 {
		for _, f := range features {
			sf := kmsg.NewApiVersionsResponseSupportedFeature()
			sf.Name, sf.MinVersion, sf.MaxVersion = f.name, f.min, f.max
			resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
			ff := kmsg.NewApiVersionsResponseFinalizedFeature()
			ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = f.name, f.level, f.level
			resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
		}
		resp.FinalizedFeaturesEpoch = 1
	}
	return resp, nil
}

// features are the feature flags ApiVersions advertises: each supported
// range and the finalized level. group.version 1 enables KIP-848 consumer
// groups (ConsumerGroupHeartbeat, ConsumerGroupDescribe); share.version 1
// enables share groups (KIP-932: ShareGroupHeartbeat, ShareFetch, ...).
var features = []struct {
	name     string
	min, max int16
	level    int16
}{
	{name: "group.version", min: 0, max: 1, level: 1},
	{name: "share.version", min: 0, max: 1, level: 1},
}

// validSoftwareName reports whether s matches Kafka's
// [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
func validSoftwareName(s string) bool {
	alnum := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	if s == "" || !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !alnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}
