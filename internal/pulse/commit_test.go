package pulse

import "testing"

// TestQueuedWrite: the first claim wins, the other side learns it.
func TestQueuedWrite(t *testing.T) {
	t.Parallel()
	var taken, abandoned QueuedWrite
	if !taken.Take() || taken.Abandon() {
		t.Error("a taken write can be abandoned")
	}
	if !abandoned.Abandon() || abandoned.Take() {
		t.Error("an abandoned write can be taken")
	}
}
