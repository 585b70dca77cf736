package pulse

import "testing"

func TestNewIDIsUUIDv7AndOrdered(t *testing.T) {
	t.Parallel()
	prev := ""
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !ValidID(id) || id[14] != '7' || (id[19] != '8' && id[19] != '9' && id[19] != 'a' && id[19] != 'b') {
			t.Fatalf("not a UUIDv7: %s", id)
		}
		if id[:13] < prev[:min(len(prev), 13)] {
			t.Fatalf("ids go back in time: %s after %s", id, prev)
		}
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
		prev = id
	}
}
