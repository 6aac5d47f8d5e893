// Package coordinator holds chronik's Kafka coordinators, state machines over
// internal partitions with no wire protocol: the group coordinator
// (consumer-group state over __consumer_offsets, Coordinator) and the
// transaction coordinator (transactional ids over __transaction_state,
// TxnCoordinator, txn*.go). Package kafka decodes their requests, calls
// them and encodes their answers.
//
// It owns:
//   - membership, generations and rebalances of the classic protocol
//     (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), with static members
//     (KIP-345) and MEMBER_ID_REQUIRED (KIP-394);
//   - KIP-848 consumer groups (ConsumerGroupHeartbeat,
//     DescribeConsumerGroup; consumer*.go): group and member epochs, the
//     server-side uniform and range assignors, reconciliation that revokes
//     a partition before another member gets it, session and rebalance
//     timeouts, static members, and the conversion of empty groups between
//     the two protocols;
//   - share groups (KIP-932; share*.go): membership and the sharing
//     assignor (ShareGroupHeartbeat, ShareGroupDescribe), and, as the share
//     coordinator, the persisted state of share partitions and the groups'
//     configs (ReadShareState, WriteShareState, the share offsets admin,
//     AlterShareGroupConfigs); the live acquisition state is kept by the
//     data partition's leader in package kafka;
//   - committed offsets (CommitOffsets, FetchOffsets, DeleteOffsets) and
//     groups as a whole (DescribeGroup, ListGroups, DeleteGroup);
//   - expiry of the offsets of empty groups (Config.OffsetsRetention);
//   - the records of __consumer_offsets, in Kafka's own format (records.go,
//     consumer_records.go);
//   - loading a partition when this broker becomes its leader (load.go) and
//     compacting the partitions it leads (compact.go).
//
// # Usage
//
//	c := coordinator.New(eng, coordinator.Config{}, logger) // eng: *engine.Engine or any Backend
//	defer c.Close()
//	node, err := c.Locate(offsetsTopicInfo, "my-group") // who coordinates the group
//	resp := c.JoinGroup(ctx, coordinator.Client{ID: clientID, Host: host}, joinReq)
//
// Requests and responses whose translation would only copy fields are
// franz-go kmsg structs; the rest are plain types. Errors are kerr codes, as
// Kafka clients act on them: nil (or a zero code in a response) is success.
//
// # Guarantees
//
// A group belongs to partition PartitionFor(group, partitions) of
// __consumer_offsets and is coordinated by that partition's Raft leader.
// Every change that must survive a failover (commits, group metadata,
// deletions) is committed through Raft before the caller is answered; a new
// leader replays the partition before it answers (meanwhile
// COORDINATOR_LOAD_IN_PROGRESS).
//
// # Implementation notes
//
// One watcher goroutine, started by New and stopped by Close, polls which
// partitions this broker leads (Backend.PartitionStats), loads and unloads
// them, expires offsets and compacts. Each group has a mutex; requests that
// wait for other members park on a channel that the completing step
// answers, and timers run under the group's mutex.
package coordinator
