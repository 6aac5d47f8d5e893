package kafka

import (
	"context"
	"time"
)

// adminContext bounds an admin request (CreateTopics, DeleteTopics,
// DeleteRecords, CreatePartitions) by its TimeoutMillis; 0 or less leaves
// ctx as it is. The caller defers the returned cancel.
func adminContext(ctx context.Context, timeoutMillis int32) (context.Context, context.CancelFunc) {
	if timeoutMillis <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, time.Duration(timeoutMillis)*time.Millisecond)
}
