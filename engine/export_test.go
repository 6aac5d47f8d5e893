package engine

// RemoveMovedAway runs the sweep of replicas moved away while this broker
// was down (reassign.go) at once, for tests.
func (e *Engine) RemoveMovedAway() bool { return e.removeMovedAway() }
