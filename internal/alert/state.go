package alert

import (
	"math"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// maxSlots bounds the buckets of one series: a window of w seconds uses
// buckets of max(1 s, w/maxSlots), so a 24 h window counts in 144 s steps.
const maxSlots = 600

// ruleState is what the evaluator keeps for one rule.
type ruleState struct {
	rule   *pulse.Rule
	width  int64 // bucket width in seconds
	slots  int64 // buckets per series: the window and one more
	series map[string]*series

	// limits are the tenant's, refreshed every tick.
	limits pulse.AlertLimits
	// dropped counts events of new groups refused because the rule had
	// limits.MaxGroupsPerRule groups (see Evaluator.RuleStatus).
	dropped int64
	onDrop  func()
}

// series is one (rule, group): a ring of time buckets (by event timestamp)
// with running totals, so that adding an event and evaluating are O(1)
// amortised, and the lifecycle of the group's alert.
type series struct {
	labels  map[string]string
	ring    []bucket
	expired int64                    // every bucket index <= expired has left the window
	total   int                      // events in live buckets
	users   map[string]*userSeen     // count_distinct: user → its newest live bucket
	sketch  *slidingHLL              // count_distinct beyond limits.MaxDistinctPerGroup users, in place of users
	future  map[int64][]*pulse.Event // events stamped after now, added when now reaches them
	samples []string                 // the last MaxAlertSamples matching event ids

	pendingSince time.Time    // the condition holds since (waiting for for_seconds)
	clearSince   time.Time    // the condition fails since (waiting for the cooldown)
	alert        *pulse.Alert // the firing alert, if any
}

type bucket struct {
	idx  int64 // which bucket (unix second / width) the slot holds; 0 = empty
	n    int
	seen *userSeen // count_distinct: the users whose newest bucket this is
}

// userSeen is one user of an exact count_distinct: the newest bucket it was
// seen in, linked into that bucket's list. A user seen in every bucket is
// still one entry, so a group holds at most max_distinct_per_group of them,
// and expiring a bucket costs the users whose newest bucket it was.
type userSeen struct {
	id         string
	idx        int64
	prev, next *userSeen
}

func newRuleState(r *pulse.Rule, limits pulse.AlertLimits, onDrop func()) *ruleState {
	w := int64(r.Condition.WindowSeconds)
	width := max(1, (w+maxSlots-1)/maxSlots)
	return &ruleState{rule: r, width: width, slots: (w+width-1)/width + 1, series: map[string]*series{}, limits: limits, onDrop: onDrop}
}

func (rs *ruleState) newSeries(labels map[string]string, now time.Time) *series {
	s := &series{labels: labels, ring: make([]bucket, rs.slots), expired: rs.fromIdx(now)}
	if rs.rule.Condition.Aggregate == pulse.AggregateDistinctUsers {
		s.users = map[string]*userSeen{}
	}
	return s
}

// fromIdx is the newest bucket index outside the window at now.
func (rs *ruleState) fromIdx(now time.Time) int64 {
	return (now.Unix() - int64(rs.rule.Condition.WindowSeconds)) / rs.width
}

// add counts e if it matches and is not older than the window at now.
func (rs *ruleState) add(e *pulse.Event, now time.Time) {
	r := rs.rule
	idx := e.Timestamp.Unix() / rs.width
	if idx <= rs.fromIdx(now) || !r.Matches(e) {
		return
	}
	key := r.GroupKey(e)
	s := rs.series[key]
	if s == nil {
		if len(rs.series) >= rs.limits.MaxGroupsPerRule {
			rs.dropped++
			if rs.onDrop != nil {
				rs.onDrop()
			}
			return
		}
		s = rs.newSeries(r.GroupLabels(e), now)
		rs.series[key] = s
	}
	if idx > now.Unix()/rs.width {
		if s.future == nil {
			s.future = map[int64][]*pulse.Event{}
		}
		s.future[idx] = append(s.future[idx], e)
		return
	}
	rs.count(s, idx, e)
}

func (rs *ruleState) count(s *series, idx int64, e *pulse.Event) {
	b := &s.ring[idx%rs.slots]
	if b.idx != idx {
		s.drop(b)
		b.idx = idx
	}
	b.n++
	s.total++
	if s.sketch != nil && e.UserID != "" {
		s.sketch.add(e.UserID, idx)
	} else if s.users != nil && e.UserID != "" {
		s.see(b, e.UserID)
		if len(s.users) > rs.limits.MaxDistinctPerGroup {
			s.toSketch()
		}
	}
	if len(s.samples) == pulse.MaxAlertSamples {
		copy(s.samples, s.samples[1:])
		s.samples = s.samples[:pulse.MaxAlertSamples-1]
	}
	s.samples = append(s.samples, e.ID)
}

// see records user u in bucket b, unless a newer bucket holds it already:
// the user moves to b's list.
func (s *series) see(b *bucket, u string) {
	n := s.users[u]
	if n == nil {
		n = &userSeen{id: u}
		s.users[u] = n
	} else if n.idx >= b.idx {
		return
	} else {
		s.unlink(n)
	}
	n.idx, n.prev, n.next = b.idx, nil, b.seen
	if b.seen != nil {
		b.seen.prev = n
	}
	b.seen = n
}

// unlink takes n out of its bucket's list.
func (s *series) unlink(n *userSeen) {
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		s.ring[n.idx%int64(len(s.ring))].seen = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	}
}

// exactEntries is the number of user entries the exact count_distinct of s
// holds in its buckets (at most limits.MaxDistinctPerGroup).
func (s *series) exactEntries() int {
	n := 0
	for i := range s.ring {
		for u := s.ring[i].seen; u != nil; u = u.next {
			n++
		}
	}
	return n
}

// toSketch moves the exact users of s into a sliding HyperLogLog, so that
// the group holds a bounded sketch however many users it sees. Adding a
// user at its newest bucket only gives the same sketch as at every bucket
// it was seen in: the newest entry dominates the older ones.
func (s *series) toSketch() {
	s.sketch = &slidingHLL{}
	for u, n := range s.users {
		s.sketch.add(u, n.idx)
	}
	for i := range s.ring {
		s.ring[i].seen = nil
	}
	s.users = nil
}

// drop removes a bucket's counts from the running totals and empties it.
func (s *series) drop(b *bucket) {
	if b.idx == 0 {
		return
	}
	s.total -= b.n
	for u := b.seen; u != nil; u = u.next {
		delete(s.users, u.id)
	}
	*b = bucket{}
}

// value expires the buckets that left the window, brings in future events
// whose time has come, and returns the aggregate over the window at now.
func (rs *ruleState) value(s *series, now time.Time) float64 {
	from := rs.fromIdx(now)
	if from-s.expired >= rs.slots { // a long quiet time: everything left
		for i := range s.ring {
			s.drop(&s.ring[i])
		}
	} else {
		for i := s.expired + 1; i <= from; i++ {
			if b := &s.ring[i%rs.slots]; b.idx == i {
				s.drop(b)
			}
		}
	}
	s.expired = max(s.expired, from)
	if s.sketch != nil {
		s.sketch.expire(from)
	}
	if len(s.future) > 0 {
		nowIdx := now.Unix() / rs.width
		for idx, evs := range s.future {
			if idx <= nowIdx {
				delete(s.future, idx)
				for _, e := range evs {
					if idx > from {
						rs.count(s, idx, e)
					}
				}
			}
		}
	}
	if s.total == 0 {
		s.samples = s.samples[:0]
		if s.sketch != nil { // back to exact counting
			s.sketch, s.users = nil, map[string]*userSeen{}
		}
	}
	if s.sketch != nil {
		return math.Round(s.sketch.estimate())
	}
	if s.users != nil {
		return float64(len(s.users))
	}
	return float64(s.total)
}

// idle reports whether the series holds nothing worth keeping.
func (s *series) idle() bool {
	return s.total == 0 && len(s.future) == 0 && s.alert == nil && s.pendingSince.IsZero()
}
