package kafka

import (
	"context"
	"time"
)

// defaultAdminTimeout bounds an admin request whose TimeoutMillis is 0 or
// less: the 30 s of Kafka clients' request.timeout.ms, so that no request
// waits for ever on a step that does not complete.
const defaultAdminTimeout = 30 * time.Second

// adminContext bounds an admin request (CreateTopics, DeleteTopics,
// DeleteRecords, CreatePartitions, reassignments, broker membership) by its
// TimeoutMillis, or by defaultAdminTimeout when that is 0 or less. The
// caller defers the returned cancel.
func adminContext(ctx context.Context, timeoutMillis int32) (context.Context, context.CancelFunc) {
	d := defaultAdminTimeout
	if timeoutMillis > 0 {
		d = time.Duration(timeoutMillis) * time.Millisecond
	}
	return context.WithTimeout(ctx, d)
}
