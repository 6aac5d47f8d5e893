package kafka

// ShareFetch: v0-2 (KIP-932, KIP-1206, KIP-1222)
//
// Behaviour:
//   - Served by the leader of each data partition (NOT_LEADER_OR_FOLLOWER
//     with the CurrentLeader hint and NodeEndpoints otherwise). Records are
//     acquired for the member (share.go) and returned with the batches that
//     hold them; the response names the acquired ranges and their delivery
//     counts. A partition's share state is read from the group's share
//     coordinator on first use and initialized by share.auto.offset.reset
//     (latest unless set on the group). With share.isolation.level
//     read_committed only records below the last stable offset are
//     acquired, and aborted transactions' records and transaction markers
//     are archived without being delivered.
//   - Share sessions (per group and member, on this broker): epoch 0
//     starts one from the request's partitions, a later epoch adds the
//     request's partitions and drops ForgottenTopicsData, -1 settles the
//     piggybacked acknowledgements, releases what the member still holds
//     on the session's partitions and ends the session; so does closing
//     the connection the session last fetched on. A later epoch
//     without a session: SHARE_SESSION_NOT_FOUND (the client starts a new
//     one). Epochs are not checked further.
//   - Piggybacked acknowledgements are applied and written to the share
//     coordinator before the response; their result is the partition's
//     AcknowledgeErrorCode.
//   - Without records to acquire the request waits up to MaxWaitMillis
//     for new records or released ones.
//   - Authorization: Read on the group, else GROUP_AUTHORIZATION_FAILED;
//     Read on each topic, else TOPIC_AUTHORIZATION_FAILED for its
//     partitions.
//
// Version notes:
//   - v1: MaxRecords, BatchSize (acquisition is per record; BatchSize is
//     not used), AcquisitionLockTimeoutMillis.
//   - v2: IsRenewAck (acknowledge type 4 renews locks; no fetch).

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/acl"
)

func init() { regKey(78, 0, 2, handleShareFetch) }

// shareFetchPart is one partition's answer being built.
type shareFetchPart struct {
	k   spKey
	out kmsg.ShareFetchResponseTopicPartition
	hw  int64
	has bool // in the response
}

func handleShareFetch(s *Server, ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ShareFetchRequest)
	resp := req.ResponseKind().(*kmsg.ShareFetchResponse)
	resp.Version = r.version
	resp.AcquisitionLockTimeoutMillis = s.shareLockMs()
	group, member := deref(req.GroupID), deref(req.MemberID)
	if !s.authorize(r, acl.Read, acl.Group, group) {
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp, nil
	}
	if group == "" || member == "" || len(member) > 36 {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil
	}
	az := s.topicAuthorizer(r, acl.Read)
	skey := [2]string{group, member}

	parts := map[spKey]*shareFetchPart{}
	var order []spKey
	part := func(tid [16]byte, p int32) *shareFetchPart {
		k := spKey{group, tid, p}
		fp := parts[k]
		if fp == nil {
			fp = &shareFetchPart{k: k, out: kmsg.NewShareFetchResponseTopicPartition()}
			fp.out.Partition = p
			fp.out.CurrentLeader.LeaderID, fp.out.CurrentLeader.LeaderEpoch = -1, -1
			parts[k] = fp
			order = append(order, k)
		}
		return fp
	}

	// The session.
	s.shares.mu.Lock()
	sess := s.shares.sessions[skey]
	switch {
	case req.ShareSessionEpoch == 0:
		sess = &shareSession{parts: map[spKey]bool{}}
		s.shares.sessions[skey] = sess
	case sess == nil:
		s.shares.mu.Unlock()
		resp.ErrorCode = kerr.ShareSessionNotFound.Code
		return resp, nil
	}
	if r.conn != nil {
		sess.conn = r.conn
	}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			sess.parts[spKey{group, t.TopicID, p.Partition}] = true
		}
	}
	for _, f := range req.ForgottenTopicsData {
		for _, p := range f.Partitions {
			delete(sess.parts, spKey{group, f.TopicID, p})
		}
	}
	if req.ShareSessionEpoch == -1 {
		delete(s.shares.sessions, skey)
	}
	var fetchKeys []spKey
	for k := range sess.parts {
		fetchKeys = append(fetchKeys, k)
	}
	s.shares.mu.Unlock()

	// Piggybacked acknowledgements.
	maxType := int8(ackReject)
	if req.Version >= 2 && req.IsRenewAck {
		maxType = ackRenew
	}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			if len(p.AcknowledgementBatches) == 0 {
				continue
			}
			batches := make([]ackBatch, 0, len(p.AcknowledgementBatches))
			for _, b := range p.AcknowledgementBatches {
				batches = append(batches, ackBatch{first: b.FirstOffset, last: b.LastOffset, types: b.AcknowledgeTypes})
			}
			fp := part(t.TopicID, p.Partition)
			fp.has = true
			if req.ShareSessionEpoch == 0 {
				fp.out.AcknowledgeErrorCode = kerr.InvalidShareSessionEpoch.Code
				continue
			}
			code, _, _ := s.shareAck(ctx, az, fp.k, member, batches, maxType)
			fp.out.AcknowledgeErrorCode = code
		}
	}
	if req.ShareSessionEpoch == -1 {
		s.releaseShareSession(fetchKeys, member)
		return shareFetchResponse(s, r, resp, parts, order), nil
	}
	if req.Version >= 2 && req.IsRenewAck {
		return shareFetchResponse(s, r, resp, parts, order), nil
	}
	for _, k := range fetchKeys {
		part(k.topic, k.partition).has = true
	}

	maxRecords := req.MaxRecords
	if maxRecords <= 0 {
		maxRecords = shareDefMaxRecords
	}
	maxBytes := int(req.MaxBytes)
	if maxBytes <= 0 || maxBytes > 16<<20 {
		maxBytes = 16 << 20
	}
	deadline := time.Now().Add(time.Duration(max(req.MaxWaitMillis, 0)) * time.Millisecond)
	rot := 0
	for {
		released := s.shares.releasedCh()
		acquired := int32(0)
		failed := false
		for i := range fetchKeys {
			k := fetchKeys[(i+rot)%len(fetchKeys)]
			fp := parts[k]
			if acquired >= maxRecords || maxBytes <= 0 {
				break
			}
			n, size, lockMs := s.shareFetchPartition(ctx, az, fp, member, maxRecords-acquired, maxBytes)
			if lockMs > 0 {
				resp.AcquisitionLockTimeoutMillis = lockMs
			}
			acquired += n
			maxBytes -= size
			failed = failed || fp.out.ErrorCode != 0
		}
		rot++
		wait := time.Until(deadline)
		if acquired > 0 || failed || wait <= 0 || len(fetchKeys) == 0 {
			break
		}
		t := time.NewTimer(wait)
		watches := make([]<-chan struct{}, 0, len(fetchKeys))
		for _, k := range fetchKeys {
			if ch, err := s.be.Watch(s.topicNameOf(parts[k].k), k.partition, parts[k].hw); err == nil {
				watches = append(watches, ch)
			}
		}
		woke := make(chan struct{})
		stop := make(chan struct{})
		for _, ch := range watches {
			go func() {
				select {
				case <-ch:
					select {
					case woke <- struct{}{}:
					default:
					}
				case <-stop:
				}
			}()
		}
		select {
		case <-t.C:
		case <-released:
		case <-woke:
		case <-ctx.Done():
		case <-s.closing:
		}
		close(stop)
		t.Stop()
		if ctx.Err() != nil {
			break
		}
		select {
		case <-s.closing:
			deadline = time.Now()
		default:
		}
	}
	return shareFetchResponse(s, r, resp, parts, order), nil
}

// topicNameOf is the name of k's topic, "" if its ID is unknown.
func (s *Server) topicNameOf(k spKey) string {
	name, _ := s.be.TopicName(k.topic)
	return name
}

// shareFetchPartition acquires records of one partition into fp and
// returns how many, their batches' size and the lock duration (ms).
func (s *Server) shareFetchPartition(ctx context.Context, az topicAuthz, fp *shareFetchPart, member string, maxRecords int32, maxBytes int) (int32, int, int32) {
	name := s.topicNameOf(fp.k)
	if name == "" {
		fp.out.ErrorCode = kerr.UnknownTopicID.Code
		return 0, 0, 0
	}
	if !az.ok(name) {
		fp.out.ErrorCode = kerr.TopicAuthorizationFailed.Code
		return 0, 0, 0
	}
	sp := s.shares.part(fp.k, name)
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if err := s.openShare(ctx, sp); err != nil {
		s.shareFetchError(fp, err)
		return 0, 0, 0
	}
	lockMs := int32(sp.lockDur / time.Millisecond)
	acq, batches, hw, err := s.acquire(ctx, sp, member, maxRecords, maxBytes)
	if err != nil {
		s.shareFetchError(fp, err)
		return 0, 0, lockMs
	}
	fp.hw = hw
	fp.out.ErrorCode = 0
	var n int32
	for _, a := range acq {
		n += int32(a.LastOffset - a.FirstOffset + 1)
	}
	if n > 0 {
		fp.out.Records = batches
		fp.out.AcquiredRecords = append(fp.out.AcquiredRecords, acq...)
	}
	return n, len(batches), lockMs
}

func (s *Server) shareFetchError(fp *shareFetchPart, err error) {
	fp.out.ErrorCode = shareErrorCode(err, false)
	if id, epoch := leaderHint(err); id >= 0 {
		fp.out.CurrentLeader.LeaderID, fp.out.CurrentLeader.LeaderEpoch = id, epoch
	} else if fp.out.ErrorCode == kerr.NotLeaderForPartition.Code {
		fp.out.ErrorCode = kerr.LeaderNotAvailable.Code
	}
	s.log.Debug("share fetch partition failed", "group", fp.k.group, "topic", s.topicNameOf(fp.k), "partition", fp.k.partition, "err", err)
}

// shareFetchResponse assembles the response from the partitions in order,
// with every broker's endpoint when a partition names another leader.
func shareFetchResponse(s *Server, r *request, resp *kmsg.ShareFetchResponse, parts map[spKey]*shareFetchPart, order []spKey) *kmsg.ShareFetchResponse {
	idx := map[[16]byte]int{}
	hint := false
	for _, k := range order {
		fp := parts[k]
		if !fp.has {
			continue
		}
		i, ok := idx[k.topic]
		if !ok {
			i = len(resp.Topics)
			idx[k.topic] = i
			t := kmsg.NewShareFetchResponseTopic()
			t.TopicID = k.topic
			resp.Topics = append(resp.Topics, t)
		}
		hint = hint || fp.out.CurrentLeader.LeaderID >= 0
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, fp.out)
	}
	if hint {
		v := s.brokerView()
		for id := range v.brokers {
			if ep, ok := v.endpoint(id, r.listener); ok {
				ne := kmsg.NewShareFetchResponseNodeEndpoint()
				ne.NodeID, ne.Host, ne.Port, ne.Rack = ep.id, ep.host, ep.port, ep.rack
				resp.NodeEndpoints = append(resp.NodeEndpoints, ne)
			}
		}
	}
	return resp
}

// shareAck applies one partition's acknowledgements and writes the share
// state to the coordinator; it returns the error code and, for
// NOT_LEADER_OR_FOLLOWER, the leader hint.
func (s *Server) shareAck(ctx context.Context, az topicAuthz, k spKey, member string, batches []ackBatch, maxType int8) (int16, int32, int32) {
	name := s.topicNameOf(k)
	if name == "" {
		return kerr.UnknownTopicID.Code, -1, -1
	}
	if !az.ok(name) {
		return kerr.TopicAuthorizationFailed.Code, -1, -1
	}
	sp := s.shares.part(k, name)
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if err := s.openShare(ctx, sp); err != nil {
		id, epoch := leaderHint(err)
		return shareErrorCode(err, true), id, epoch
	}
	saved := sp.save()
	released, e := sp.ack(member, batches, maxType)
	if e != nil {
		return e.Code, -1, -1
	}
	if err := s.persistShare(ctx, sp); err != nil {
		sp.restore(saved)
		s.log.Debug("share acknowledgement not written", "group", k.group, "topic", name, "partition", k.partition, "err", err)
		return shareErrorCode(err, true), -1, -1
	}
	if released {
		s.shares.wake()
	}
	return 0, -1, -1
}

// releaseShareSession releases what member holds on the partitions of its
// ended session.
func (s *Server) releaseShareSession(keys []spKey, member string) {
	woke := false
	for _, k := range keys {
		s.shares.mu.Lock()
		sp := s.shares.parts[k]
		s.shares.mu.Unlock()
		if sp == nil {
			continue
		}
		sp.mu.Lock()
		if sp.loaded && sp.releaseMember(member) {
			woke = true
		}
		sp.mu.Unlock()
	}
	if woke {
		s.shares.wake()
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
