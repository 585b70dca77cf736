package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Job is one delivery of a notification for the Queue. Round changes when a
// user re-sends a failed notification, so that the queue sees a new job.
type Job struct {
	TenantID       string `json:"tenant_id"`
	NotificationID string `json:"notification_id"`
	Round          int    `json:"round"`
}

// Queue runs deliveries durably (internal/queue implements it with River).
// Enqueue must be idempotent for one Job: the evaluator may hand the same
// job over again after a crash.
type Queue interface {
	Enqueue(ctx context.Context, j Job) error
}

// LeaseName is the store lease that makes one evaluator work at a time.
const LeaseName = "alert-evaluator"

// Config wires an Evaluator.
type Config struct {
	Store    pulse.AlertStore
	Queue    Queue
	Clock    pulse.Clock
	Logger   *slog.Logger
	Metrics  *Metrics
	Holder   string        // this node's name for the lease; default a new id
	Interval time.Duration // between ticks in Run; default 1s
	// Overlap is how far behind its watermark (by receive time) each tick
	// reads again, for transactions that commit out of id order. Default 3s.
	Overlap  time.Duration
	LeaseTTL time.Duration // default 15s
	// ScanLimit is the page size of event reads. Default 5000.
	ScanLimit int
	// Limits are the default alerting limits (zero: pulse.DefaultAlertLimits);
	// Tenants, when set, supplies each tenant's overrides every tick.
	Limits  pulse.AlertLimits
	Tenants TenantLister
}

// TenantLister reads the tenants and their alert limit overrides
// (pulse.TenantStore implements it).
type TenantLister interface {
	ListTenants(ctx context.Context) ([]*pulse.Tenant, error)
}

// Evaluator turns the event stream into alert state changes.
type Evaluator struct {
	cfg Config

	mu        sync.Mutex // one Tick at a time
	leader    bool
	watermark string           // the greatest event id read
	seen      map[string]int64 // ids read within the overlap → their millisecond
	rules     map[string]*ruleState
	byTenant  map[string][]*ruleState
	adopt     bool // load the firing alerts on the next tick (a new term)

	statusMu sync.Mutex // guards status apart from mu, so readers never wait for a tick
	status   map[string]pulse.RuleStatus
}

// NewEvaluator returns an evaluator; call Run, or Tick yourself.
func NewEvaluator(cfg Config) *Evaluator {
	if cfg.Clock == nil {
		cfg.Clock = pulse.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Holder == "" {
		cfg.Holder = pulse.NewID()
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Overlap <= 0 {
		cfg.Overlap = 3 * time.Second
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 15 * time.Second
	}
	if cfg.ScanLimit <= 0 {
		cfg.ScanLimit = 5000
	}
	if cfg.Limits == (pulse.AlertLimits{}) {
		cfg.Limits = pulse.DefaultAlertLimits()
	}
	return &Evaluator{cfg: cfg}
}

// Run ticks every Interval until ctx is done, then gives the lease up.
func (e *Evaluator) Run(ctx context.Context) {
	t := time.NewTicker(e.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := e.Tick(ctx); err != nil && ctx.Err() == nil {
			e.cfg.Logger.Warn("alert evaluation failed; will retry", "err", err)
		}
		select {
		case <-ctx.Done():
			e.release()
			return
		case <-t.C:
		}
	}
}

func (e *Evaluator) release() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.leader {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.cfg.Store.ReleaseLease(ctx, LeaseName, e.cfg.Holder); err != nil {
			e.cfg.Logger.Warn("release alert evaluator lease", "err", err)
		}
		e.leader = false
	}
}

// Tick does one evaluation round and reports whether this node is the
// evaluator. Tests call it directly after moving their clock.
func (e *Evaluator) Tick(ctx context.Context) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	start := time.Now()
	now := e.cfg.Clock.Now().UTC()
	ok, err := e.cfg.Store.AcquireLease(ctx, LeaseName, e.cfg.Holder, now, e.cfg.LeaseTTL)
	if err != nil {
		return e.leader, err
	}
	if !ok {
		e.leader = false
		e.rules = nil
		return false, nil
	}
	if !e.leader {
		if err := e.start(ctx); err != nil {
			return false, err
		}
		e.leader = true
	}
	if err := e.tick(ctx, now); err != nil {
		e.cfg.Metrics.evaluations.WithLabelValues("error").Inc()
		// State may be half-updated: rebuild it on the next tick.
		e.leader = false
		return true, err
	}
	e.cfg.Metrics.tickSeconds.Observe(time.Since(start).Seconds())
	return true, nil
}

// start resets the state for a new term as evaluator: the watermark goes to
// the newest event, and every rule is rebuilt from its window.
func (e *Evaluator) start(ctx context.Context) error {
	wm, err := e.cfg.Store.MaxEventID(ctx)
	if err != nil {
		return err
	}
	e.watermark = wm
	e.seen = map[string]int64{}
	e.rules = map[string]*ruleState{}
	e.byTenant = map[string][]*ruleState{}
	e.adopt = true
	return nil
}

func (e *Evaluator) tick(ctx context.Context, now time.Time) error {
	rules, err := e.cfg.Store.ListEnabledRules(ctx)
	if err != nil {
		return err
	}
	var firing []*pulse.Alert
	if e.adopt {
		if firing, err = e.cfg.Store.ListFiringAlerts(ctx); err != nil {
			return err
		}
		e.adopt = false
	}
	silences, err := e.cfg.Store.ListActiveSilences(ctx, now)
	if err != nil {
		return err
	}
	limits, err := e.tenantLimits(ctx)
	if err != nil {
		return err
	}
	limitsOf := func(tenant string) pulse.AlertLimits {
		if l, ok := limits[tenant]; ok {
			return l
		}
		return e.cfg.Limits
	}
	dropped := e.cfg.Metrics.groupsDropped.WithLabelValues(DroppedMaxGroups)

	// 1. Sync the rules: new or changed ones are rebuilt from their window;
	// gone ones resolve their alerts.
	keep := make(map[string]*ruleState, len(rules))
	var rebuild []*ruleState
	for _, r := range rules {
		old := e.rules[r.ID]
		if old != nil && old.rule.UpdatedAt.Equal(r.UpdatedAt) {
			old.limits = limitsOf(r.TenantID)
			keep[r.ID] = old
			continue
		}
		// A rebuilt rule recounts its window, drops included.
		rs := newRuleState(r, limitsOf(r.TenantID), dropped.Inc)
		if old != nil { // changed: keep the firing alerts, recount the rest
			for k, s := range old.series {
				if s.alert != nil {
					ns := rs.newSeries(s.labels, now)
					ns.alert = s.alert
					rs.series[k] = ns
				}
			}
		}
		keep[r.ID] = rs
		rebuild = append(rebuild, rs)
	}
	for id, old := range e.rules {
		if keep[id] != nil {
			continue
		}
		for _, s := range old.series {
			if s.alert != nil {
				if err := e.resolve(ctx, old.rule, s, now, 0, silences); err != nil {
					return err
				}
			}
		}
	}
	for _, a := range firing {
		rs := keep[a.RuleID]
		if rs == nil { // its rule was disabled or deleted while no one evaluated
			if err := e.resolveOrphan(ctx, a, now, silences); err != nil {
				return err
			}
			continue
		}
		s := rs.newSeries(a.Group, now)
		s.alert = a
		rs.series[a.GroupKey] = s
	}
	e.rules = keep
	e.byTenant = make(map[string][]*ruleState)
	for _, rs := range keep {
		e.byTenant[rs.rule.TenantID] = append(e.byTenant[rs.rule.TenantID], rs)
	}
	if err := e.backfill(ctx, rebuild, now); err != nil {
		return err
	}

	// 2. Read what arrived since the watermark (and the overlap before it).
	if err := e.readNew(ctx, now); err != nil {
		return err
	}

	// 3. Evaluate every series and write the state changes.
	firingN, pendingN, groupsN := 0, 0, 0
	for _, rs := range e.rules {
		for key, s := range rs.series {
			if err := e.evaluate(ctx, rs, key, s, now, silences); err != nil {
				return err
			}
			if s.idle() {
				delete(rs.series, key)
			} else if s.alert != nil {
				firingN++
			} else if !s.pendingSince.IsZero() {
				pendingN++
			}
		}
		groupsN += len(rs.series)
	}
	e.publishStatus()
	e.cfg.Metrics.evaluations.WithLabelValues("ok").Add(float64(len(e.rules)))
	e.cfg.Metrics.alerts.WithLabelValues(pulse.AlertFiring).Set(float64(firingN))
	e.cfg.Metrics.alerts.WithLabelValues("pending").Set(float64(pendingN))
	e.cfg.Metrics.groups.Set(float64(groupsN))

	// 4. Hand the new notifications to the queue.
	return e.dispatch(ctx)
}

// tenantLimits returns the limits in force for each tenant with an
// override; others use the defaults.
func (e *Evaluator) tenantLimits(ctx context.Context) (map[string]pulse.AlertLimits, error) {
	if e.cfg.Tenants == nil {
		return nil, nil
	}
	tenants, err := e.cfg.Tenants.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]pulse.AlertLimits, len(tenants))
	for _, t := range tenants {
		out[t.ID] = e.cfg.Limits.With(t.AlertLimits)
	}
	return out, nil
}

// publishStatus copies what each rule holds for RuleStatus.
func (e *Evaluator) publishStatus() {
	st := make(map[string]pulse.RuleStatus, len(e.rules))
	for id, rs := range e.rules {
		st[id] = pulse.RuleStatus{Groups: len(rs.series), GroupsDropped: rs.dropped, MaxGroups: rs.limits.MaxGroupsPerRule}
	}
	e.statusMu.Lock()
	e.status = st
	e.statusMu.Unlock()
}

// RuleStatus reports what this node's evaluator holds for a rule: its
// groups and the events of new groups dropped at the rule's group limit
// since this node became the evaluator. ok is false when this node does
// not evaluate the rule.
func (e *Evaluator) RuleStatus(ruleID string) (pulse.RuleStatus, bool) {
	e.statusMu.Lock()
	defer e.statusMu.Unlock()
	st, ok := e.status[ruleID]
	return st, ok
}

// backfill counts, for rules new to this evaluator, the events of their
// window that the incremental read will not bring again: those up to the
// overlap floor, and those after it that were already read.
func (e *Evaluator) backfill(ctx context.Context, rebuild []*ruleState, now time.Time) error {
	if len(rebuild) == 0 || e.watermark == "" {
		return nil
	}
	floor := e.floor()
	tenants := map[string][]*ruleState{}
	for _, rs := range rebuild {
		tenants[rs.rule.TenantID] = append(tenants[rs.rule.TenantID], rs)
	}
	for tenant, rss := range tenants {
		window := 0
		for _, rs := range rss {
			window = max(window, rs.rule.Condition.WindowSeconds)
		}
		scan := pulse.EventScan{TenantID: tenant, UpToID: e.watermark, Since: now.Add(-time.Duration(window) * time.Second), Limit: e.cfg.ScanLimit}
		for {
			events, err := e.cfg.Store.ScanEvents(ctx, scan)
			if err != nil {
				return err
			}
			for _, ev := range events {
				if _, ok := e.seen[ev.ID]; ev.ID > floor && !ok {
					continue
				}
				for _, rs := range rss {
					rs.add(ev, now)
				}
			}
			if len(events) < scan.Limit {
				break
			}
			scan.AfterID = events[len(events)-1].ID
		}
	}
	return nil
}

// readNew reads the events after the watermark, and those of the overlap
// before it that were not seen (a transaction that committed late): the
// overlap is first read as ids only, so re-reading it costs an index scan.
func (e *Evaluator) readNew(ctx context.Context, now time.Time) error {
	if len(e.rules) == 0 {
		// No rule anywhere: nothing to count, so skip reading the events
		// (a second read of everything ingested) and move the watermark to
		// the newest id. A rule created later is backfilled from its window.
		wm, err := e.cfg.Store.MaxEventID(ctx)
		if err != nil {
			return err
		}
		if wm > e.watermark {
			e.watermark = wm
		}
		clear(e.seen)
		return nil
	}
	from := e.watermark
	if from != "" {
		ids, err := e.scanAll(ctx, pulse.EventScan{AfterID: e.floor(), UpToID: e.watermark, IDsOnly: true})
		if err != nil {
			return err
		}
		for _, ev := range ids {
			if _, ok := e.seen[ev.ID]; !ok { // a late commit: read the overlap in full
				from = e.floor()
				break
			}
		}
	}
	err := e.scanEach(ctx, pulse.EventScan{AfterID: from}, func(ev *pulse.Event) {
		if _, ok := e.seen[ev.ID]; ok {
			return
		}
		e.seen[ev.ID] = pulse.IDMillis(ev.ID)
		for _, rs := range e.byTenant[ev.TenantID] {
			rs.add(ev, now)
		}
		if ev.ID > e.watermark {
			e.watermark = ev.ID
		}
	})
	if err != nil {
		return err
	}
	if e.watermark != "" {
		newest := pulse.IDMillis(e.watermark)
		e.cfg.Metrics.lag.Set(max(0, float64(time.Now().UnixMilli()-newest)/1000))
		cut := newest - e.cfg.Overlap.Milliseconds()
		for id, ms := range e.seen {
			if ms < cut {
				delete(e.seen, id)
			}
		}
	}
	return nil
}

// scanAll pages through s.
func (e *Evaluator) scanAll(ctx context.Context, s pulse.EventScan) ([]*pulse.Event, error) {
	var all []*pulse.Event
	err := e.scanEach(ctx, s, func(ev *pulse.Event) { all = append(all, ev) })
	return all, err
}

// scanEach pages through s, handing each event to fn, so that a large
// backlog is never held in memory at once.
func (e *Evaluator) scanEach(ctx context.Context, s pulse.EventScan, fn func(*pulse.Event)) error {
	s.Limit = e.cfg.ScanLimit
	for {
		events, err := e.cfg.Store.ScanEvents(ctx, s)
		if err != nil {
			return err
		}
		for _, ev := range events {
			fn(ev)
		}
		if len(events) < s.Limit {
			return nil
		}
		s.AfterID = events[len(events)-1].ID
	}
}

// floor is the smallest id of the overlap window behind the watermark.
func (e *Evaluator) floor() string {
	if e.watermark == "" {
		return ""
	}
	return pulse.IDAt(pulse.IDMillis(e.watermark) - e.cfg.Overlap.Milliseconds())
}

// evaluate moves one series through its lifecycle at now.
func (e *Evaluator) evaluate(ctx context.Context, rs *ruleState, key string, s *series, now time.Time, silences []*pulse.Silence) error {
	r := rs.rule
	v := rs.value(s, now)
	if r.Condition.Holds(v) {
		s.clearSince = time.Time{}
		if s.alert != nil {
			return nil
		}
		if s.pendingSince.IsZero() {
			s.pendingSince = now
		}
		if now.Sub(s.pendingSince) < time.Duration(r.ForSeconds)*time.Second {
			return nil
		}
		return e.fire(ctx, r, key, s, v, now, silences)
	}
	s.pendingSince = time.Time{}
	if s.alert == nil {
		return nil
	}
	if s.clearSince.IsZero() {
		s.clearSince = now
	}
	if now.Sub(s.clearSince) < r.Cooldown() {
		return nil
	}
	return e.resolve(ctx, r, s, now, v, silences)
}

func (e *Evaluator) fire(ctx context.Context, r *pulse.Rule, key string, s *series, v float64, now time.Time, silences []*pulse.Silence) error {
	a := &pulse.Alert{
		ID: pulse.NewID(), TenantID: r.TenantID, RuleID: r.ID, RuleName: r.Name, GroupKey: key, Group: s.labels,
		Status: pulse.AlertFiring, Value: v, Threshold: r.Condition.Threshold,
		StartedAt: now.Truncate(time.Microsecond), SampleEventIDs: append([]string{}, s.samples...),
	}
	a.Silenced = silenced(silences, a, now)
	var notes []*pulse.Notification
	if !a.Silenced {
		notes = buildNotifications(r, a, pulse.NotifyFiring, now)
	}
	err := e.cfg.Store.FireAlert(ctx, a, notes)
	if pulse.ErrorCode(err) == pulse.ECONFLICT {
		// Someone else's alert is firing for this group (a previous term's
		// state was lost): adopt it rather than open a second one.
		e.cfg.Logger.Warn("alert already firing; adopting it", "rule", r.ID, "group", key)
		firing, lerr := e.cfg.Store.ListFiringAlerts(ctx)
		if lerr != nil {
			return lerr
		}
		for _, f := range firing {
			if f.RuleID == r.ID && f.GroupKey == key {
				s.alert = f
			}
		}
		return nil
	} else if err != nil {
		return err
	}
	s.alert, s.pendingSince = a, time.Time{}
	return nil
}

func (e *Evaluator) resolve(ctx context.Context, r *pulse.Rule, s *series, now time.Time, v float64, silences []*pulse.Silence) error {
	a := *s.alert
	at := now.Truncate(time.Microsecond)
	a.Status, a.Value, a.ResolvedAt = pulse.AlertResolved, v, &at
	var notes []*pulse.Notification
	if !silenced(silences, &a, now) {
		notes = buildNotifications(r, &a, pulse.NotifyResolved, now)
	}
	err := e.cfg.Store.ResolveAlert(ctx, a.TenantID, a.ID, at, v, notes)
	if err != nil && pulse.ErrorCode(err) != pulse.ECONFLICT { // ECONFLICT: already resolved
		return err
	}
	s.alert, s.clearSince = nil, time.Time{}
	return nil
}

// resolveOrphan resolves a firing alert whose rule is gone, notifying the
// webhooks the rule had if it can still be read.
func (e *Evaluator) resolveOrphan(ctx context.Context, a *pulse.Alert, now time.Time, silences []*pulse.Silence) error {
	s := &series{alert: a, labels: a.Group}
	r, err := e.cfg.Store.GetRule(ctx, a.TenantID, a.RuleID)
	if pulse.IsNotFound(err) { // deleted: nothing left to notify
		r = &pulse.Rule{ID: a.RuleID, TenantID: a.TenantID}
		r.Name = a.RuleName
	} else if err != nil {
		return err
	}
	return e.resolve(ctx, r, s, now, 0, silences)
}

func silenced(silences []*pulse.Silence, a *pulse.Alert, now time.Time) bool {
	for _, s := range silences {
		if s.Mutes(a, now) {
			return true
		}
	}
	return false
}

// dispatch hands pending notifications to the queue. The queue deduplicates
// a job handed over twice (a crash between Enqueue and the mark).
func (e *Evaluator) dispatch(ctx context.Context) error {
	if e.cfg.Queue == nil {
		return nil
	}
	for {
		notes, err := e.cfg.Store.ListUnqueuedNotifications(ctx, 100)
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(notes))
		var errs []error
		for _, n := range notes {
			if err := e.cfg.Queue.Enqueue(ctx, Job{TenantID: n.TenantID, NotificationID: n.ID, Round: n.Round}); err != nil {
				errs = append(errs, err)
				continue
			}
			ids = append(ids, n.ID)
		}
		if err := e.cfg.Store.MarkNotificationsQueued(ctx, ids); err != nil {
			return err
		}
		if len(errs) > 0 {
			return fmt.Errorf("enqueue notifications: %w", errors.Join(errs...))
		}
		if len(notes) < 100 {
			break
		}
	}
	n, err := e.cfg.Store.CountPendingNotifications(ctx)
	if err != nil {
		return err
	}
	e.cfg.Metrics.queueDepth.Set(float64(n))
	return nil
}
