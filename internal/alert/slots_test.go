package alert

import "testing"

func TestTenantSlots(t *testing.T) {
	t.Parallel()
	s := newTenantSlots(func(tenant string) int {
		if tenant == "big" {
			return 3 // an override
		}
		return 2
	})
	var releases []func()
	for range 2 {
		rel, ok, _ := s.tryAcquire("a")
		if !ok {
			t.Fatal("a slot under the limit was refused")
		}
		releases = append(releases, rel)
	}
	if _, ok, first := s.tryAcquire("a"); ok || !first {
		t.Fatalf("third slot of a (limit 2): ok=%v first=%v, want refused and first", ok, first)
	}
	if _, ok, first := s.tryAcquire("a"); ok || first {
		t.Fatalf("fourth: ok=%v first=%v, want refused and not first", ok, first)
	}
	// Another tenant is unaffected by a's slots; the limit is per tenant.
	for i := range 3 {
		if _, ok, _ := s.tryAcquire("big"); !ok {
			t.Fatalf("slot %d of big (limit 3) refused while a is full", i+1)
		}
	}
	if _, ok, _ := s.tryAcquire("big"); ok {
		t.Fatal("a fourth slot of big was granted")
	}
	releases[0]()
	releases[0]() // a second release of the same slot is a no-op
	rel, ok, _ := s.tryAcquire("a")
	if !ok {
		t.Fatal("a released slot was not given again")
	}
	if _, ok, _ := s.tryAcquire("a"); ok {
		t.Fatal("a double release freed two slots")
	}
	rel()
	releases[1]()
	if _, busy := s.held["a"]; busy {
		t.Fatal("an idle tenant is still in the map (it must not grow with tenants)")
	}
	if _, ok, first := s.tryAcquire("a"); !ok || first {
		t.Fatalf("after idling: ok=%v first=%v", ok, first)
	}
}

func TestTenantSlotsLimitBelowOne(t *testing.T) {
	t.Parallel()
	s := newTenantSlots(func(string) int { return 0 })
	if _, ok, _ := s.tryAcquire("a"); !ok {
		t.Fatal("a limit of 0 must still let one delivery through (it counts as 1)")
	}
	if _, ok, _ := s.tryAcquire("a"); ok {
		t.Fatal("a limit of 0 let two through")
	}
}
