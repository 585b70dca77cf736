package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

var _ pulse.AlertStore = (*DB)(nil)

const ruleColumns = `id, tenant_id, spec, created_at, updated_at`

func scanRule(row pgx.Row) (*pulse.Rule, error) {
	var r pulse.Rule
	var spec []byte
	if err := row.Scan(&r.ID, &r.TenantID, &spec, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(spec, &r.RuleSpec); err != nil {
		return nil, fmt.Errorf("rule %s: spec: %w", r.ID, err)
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	r.Compile()
	return &r, nil
}

// collect runs a query and scans every row; the result is never nil.
func collect[T any](ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, op string, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, dbError(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	if err != nil {
		return nil, dbError(op, err)
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

// CreateRule stores r; ECONFLICT when its id exists.
func (db *DB) CreateRule(ctx context.Context, r *pulse.Rule) error {
	spec, err := json.Marshal(r.RuleSpec)
	if err != nil {
		return fmt.Errorf("create rule: %w", err)
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO alert_rules (id, tenant_id, spec, enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		r.ID, r.TenantID, spec, r.IsEnabled(), r.CreatedAt, r.UpdatedAt)
	if isUniqueViolation(err) {
		return &pulse.Error{Code: pulse.ECONFLICT, Message: "a rule with this id exists", ID: r.ID}
	}
	return dbError("create rule", err)
}

// GetRule returns ErrNotFound for a missing, deleted or other tenant's rule.
func (db *DB) GetRule(ctx context.Context, tenantID, id string) (*pulse.Rule, error) {
	r, err := scanRule(db.pool.QueryRow(ctx, `SELECT `+ruleColumns+` FROM alert_rules WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL`, id, tenantID))
	if err != nil {
		return nil, dbError("get rule", err)
	}
	return r, nil
}

// ListRules returns the tenant's rules, oldest first.
func (db *DB) ListRules(ctx context.Context, tenantID string) ([]*pulse.Rule, error) {
	return collect(ctx, db.pool, "list rules", scanRule, `SELECT `+ruleColumns+` FROM alert_rules
		WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY created_at, id`, tenantID)
}

// UpdateRule replaces the rule; ErrNotFound when it is missing or deleted.
func (db *DB) UpdateRule(ctx context.Context, r *pulse.Rule) error {
	spec, err := json.Marshal(r.RuleSpec)
	if err != nil {
		return fmt.Errorf("update rule: %w", err)
	}
	tag, err := db.pool.Exec(ctx, `UPDATE alert_rules SET spec = $1, enabled = $2, updated_at = $3
		WHERE id = $4 AND tenant_id = $5 AND deleted_at IS NULL`, spec, r.IsEnabled(), r.UpdatedAt, r.ID, r.TenantID)
	return oneRow("update rule", tag.RowsAffected(), err)
}

// DeleteRule marks the rule deleted; ErrNotFound when it is missing.
func (db *DB) DeleteRule(ctx context.Context, tenantID, id string, at time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE alert_rules SET deleted_at = $1, enabled = false, updated_at = $1
		WHERE id = $2 AND tenant_id = $3 AND deleted_at IS NULL`, at, id, tenantID)
	return oneRow("delete rule", tag.RowsAffected(), err)
}

func oneRow(op string, n int64, err error) error {
	if err != nil {
		return dbError(op, err)
	}
	if n == 0 {
		return pulse.ErrNotFound
	}
	return nil
}

// ListEnabledRules returns every enabled rule of every enabled tenant.
func (db *DB) ListEnabledRules(ctx context.Context) ([]*pulse.Rule, error) {
	return collect(ctx, db.pool, "list enabled rules", scanRule, `SELECT r.id, r.tenant_id, r.spec, r.created_at, r.updated_at
		FROM alert_rules AS r JOIN tenants AS t ON t.id = r.tenant_id
		WHERE r.enabled AND r.deleted_at IS NULL AND NOT t.disabled ORDER BY r.id`)
}

const alertColumns = `id::text, tenant_id, rule_id, rule_name, group_key, group_labels, status, value, threshold, started_at, resolved_at, acknowledged_at, sample_ids, silenced`

func scanAlert(row pgx.Row) (*pulse.Alert, error) {
	var a pulse.Alert
	var labels []byte
	if err := row.Scan(&a.ID, &a.TenantID, &a.RuleID, &a.RuleName, &a.GroupKey, &labels, &a.Status, &a.Value, &a.Threshold,
		&a.StartedAt, &a.ResolvedAt, &a.AcknowledgedAt, &a.SampleEventIDs, &a.Silenced); err != nil {
		return nil, err
	}
	if labels != nil {
		if err := json.Unmarshal(labels, &a.Group); err != nil {
			return nil, fmt.Errorf("alert %s: group: %w", a.ID, err)
		}
	}
	a.StartedAt = a.StartedAt.UTC()
	a.ResolvedAt, a.AcknowledgedAt = utcPtr(a.ResolvedAt), utcPtr(a.AcknowledgedAt)
	if a.SampleEventIDs == nil {
		a.SampleEventIDs = []string{}
	}
	return &a, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// FireAlert stores a firing alert, its first history entry and its
// notifications in one transaction; ECONFLICT when one is already firing.
func (db *DB) FireAlert(ctx context.Context, a *pulse.Alert, notes []*pulse.Notification) error {
	var labels []byte
	if len(a.Group) > 0 {
		labels, _ = json.Marshal(a.Group)
	}
	samples := a.SampleEventIDs
	if samples == nil {
		samples = []string{}
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO alerts (id, tenant_id, rule_id, rule_name, group_key, group_labels, status, value, threshold, started_at, sample_ids, silenced)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			a.ID, a.TenantID, a.RuleID, a.RuleName, a.GroupKey, labels, pulse.AlertFiring, a.Value, a.Threshold, a.StartedAt, samples, a.Silenced)
		if isUniqueViolation(err) {
			return pulse.Errorf(pulse.ECONFLICT, "the rule already has a firing alert for this group")
		} else if err != nil {
			return err
		}
		if err := addHistory(ctx, tx, a.ID, pulse.AlertFiring, a.StartedAt, a.Value); err != nil {
			return err
		}
		return insertNotifications(ctx, tx, notes)
	})
	return dbError("fire alert", err)
}

func addHistory(ctx context.Context, tx pgx.Tx, alertID, status string, at time.Time, value float64) error {
	_, err := tx.Exec(ctx, `INSERT INTO alert_history (alert_id, seq, status, at, value)
		SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4 FROM alert_history WHERE alert_id = $1`, alertID, status, at, value)
	return err
}

// ResolveAlert resolves a firing alert; ECONFLICT when it is not firing.
func (db *DB) ResolveAlert(ctx context.Context, tenantID, id string, at time.Time, value float64, notes []*pulse.Notification) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE alerts SET status = $1, resolved_at = $2, value = $3 WHERE id = $4 AND tenant_id = $5 AND status = $6`,
			pulse.AlertResolved, at, value, id, tenantID, pulse.AlertFiring)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pulse.Errorf(pulse.ECONFLICT, "the alert is not firing")
		}
		if err := addHistory(ctx, tx, id, pulse.AlertResolved, at, value); err != nil {
			return err
		}
		return insertNotifications(ctx, tx, notes)
	})
	return dbError("resolve alert", err)
}

// AcknowledgeAlert records the first acknowledgement.
func (db *DB) AcknowledgeAlert(ctx context.Context, tenantID, id string, at time.Time) (*pulse.Alert, error) {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var value float64
		err := tx.QueryRow(ctx, `UPDATE alerts SET acknowledged_at = $1 WHERE id = $2 AND tenant_id = $3 AND acknowledged_at IS NULL RETURNING value`,
			at, id, tenantID).Scan(&value)
		if err == pgx.ErrNoRows {
			return nil // already acknowledged, or missing: GetAlert tells
		} else if err != nil {
			return err
		}
		return addHistory(ctx, tx, id, pulse.AlertAcknowledged, at, value)
	})
	if err != nil {
		return nil, dbError("acknowledge alert", err)
	}
	return db.GetAlert(ctx, tenantID, id)
}

// GetAlert returns the alert with its history.
func (db *DB) GetAlert(ctx context.Context, tenantID, id string) (*pulse.Alert, error) {
	a, err := scanAlert(db.pool.QueryRow(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = $1 AND tenant_id = $2`, id, tenantID))
	if err != nil {
		return nil, dbError("get alert", err)
	}
	a.History, err = collect(ctx, db.pool, "alert history", func(row pgx.Row) (pulse.AlertState, error) {
		var s pulse.AlertState
		err := row.Scan(&s.Status, &s.At, &s.Value)
		s.At = s.At.UTC()
		return s, err
	}, `SELECT status, at, value FROM alert_history WHERE alert_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// ListAlerts returns the tenant's alerts newest first.
func (db *DB) ListAlerts(ctx context.Context, tenantID string, f pulse.AlertFilter) ([]*pulse.Alert, error) {
	var b strings.Builder
	args := []any{tenantID}
	b.WriteString(`SELECT ` + alertColumns + ` FROM alerts WHERE tenant_id = $1`)
	arg := func(cond string, v any) {
		args = append(args, v)
		b.WriteString(" AND " + strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Status != "" {
		arg("status = ?", f.Status)
	}
	if f.RuleID != "" {
		arg("rule_id = ?", f.RuleID)
	}
	if f.After != "" {
		arg("id < ?::uuid", f.After)
	}
	args = append(args, f.Limit)
	b.WriteString(` ORDER BY id DESC LIMIT $` + strconv.Itoa(len(args)))
	return collect(ctx, db.pool, "list alerts", scanAlert, b.String(), args...)
}

// ListFiringAlerts returns every tenant's firing alerts.
func (db *DB) ListFiringAlerts(ctx context.Context) ([]*pulse.Alert, error) {
	return collect(ctx, db.pool, "list firing alerts", scanAlert, `SELECT `+alertColumns+` FROM alerts WHERE status = $1`, pulse.AlertFiring)
}

const silenceColumns = `id::text, tenant_id, rule_id, matchers, starts_at, ends_at, comment, created_at`

func scanSilence(row pgx.Row) (*pulse.Silence, error) {
	var s pulse.Silence
	var matchers []byte
	if err := row.Scan(&s.ID, &s.TenantID, &s.RuleID, &matchers, &s.StartsAt, &s.EndsAt, &s.Comment, &s.CreatedAt); err != nil {
		return nil, err
	}
	if matchers != nil {
		if err := json.Unmarshal(matchers, &s.Matchers); err != nil {
			return nil, fmt.Errorf("silence %s: %w", s.ID, err)
		}
	}
	s.StartsAt, s.EndsAt, s.CreatedAt = s.StartsAt.UTC(), s.EndsAt.UTC(), s.CreatedAt.UTC()
	return &s, nil
}

// CreateSilence stores s.
func (db *DB) CreateSilence(ctx context.Context, s *pulse.Silence) error {
	var matchers []byte
	if len(s.Matchers) > 0 {
		matchers, _ = json.Marshal(s.Matchers)
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO silences (id, tenant_id, rule_id, matchers, starts_at, ends_at, comment, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, s.ID, s.TenantID, s.RuleID, matchers, s.StartsAt, s.EndsAt, s.Comment, s.CreatedAt)
	return dbError("create silence", err)
}

// ListSilences returns the tenant's silences, oldest first.
func (db *DB) ListSilences(ctx context.Context, tenantID string) ([]*pulse.Silence, error) {
	return collect(ctx, db.pool, "list silences", scanSilence, `SELECT `+silenceColumns+` FROM silences WHERE tenant_id = $1 ORDER BY created_at, id`, tenantID)
}

// DeleteSilence removes a silence; ErrNotFound when missing.
func (db *DB) DeleteSilence(ctx context.Context, tenantID, id string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM silences WHERE id = $1 AND tenant_id = $2`, id, tenantID)
	return oneRow("delete silence", tag.RowsAffected(), err)
}

// ListActiveSilences returns silences that have not ended at at.
func (db *DB) ListActiveSilences(ctx context.Context, at time.Time) ([]*pulse.Silence, error) {
	return collect(ctx, db.pool, "list active silences", scanSilence, `SELECT `+silenceColumns+` FROM silences WHERE ends_at > $1`, at)
}

const notificationColumns = `id::text, tenant_id, alert_id, rule_id, kind, url, secret, payload, status, round, queued, created_at, updated_at, delivered_at, last_error`

func scanNotification(row pgx.Row) (*pulse.Notification, error) {
	var n pulse.Notification
	var payload []byte
	if err := row.Scan(&n.ID, &n.TenantID, &n.AlertID, &n.RuleID, &n.Kind, &n.URL, &n.Secret, &payload, &n.Status, &n.Round, &n.Queued,
		&n.CreatedAt, &n.UpdatedAt, &n.DeliveredAt, &n.LastError); err != nil {
		return nil, err
	}
	n.Payload = payload
	n.CreatedAt, n.UpdatedAt, n.DeliveredAt = n.CreatedAt.UTC(), n.UpdatedAt.UTC(), utcPtr(n.DeliveredAt)
	n.Attempts = []pulse.NotificationAttempt{}
	return &n, nil
}

func insertNotifications(ctx context.Context, tx pgx.Tx, notes []*pulse.Notification) error {
	for _, n := range notes {
		_, err := tx.Exec(ctx, `INSERT INTO notifications (id, tenant_id, alert_id, rule_id, kind, url, secret, payload, status, round, queued, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			n.ID, n.TenantID, n.AlertID, n.RuleID, n.Kind, n.URL, n.Secret, []byte(n.Payload), n.Status, n.Round, n.Queued, n.CreatedAt, n.UpdatedAt)
		if err != nil {
			return err
		}
	}
	return nil
}

// CreateNotifications stores notifications in one transaction.
func (db *DB) CreateNotifications(ctx context.Context, notes []*pulse.Notification) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return insertNotifications(ctx, tx, notes) })
	return dbError("create notifications", err)
}

// GetNotification returns the notification with its attempts.
func (db *DB) GetNotification(ctx context.Context, tenantID, id string) (*pulse.Notification, error) {
	n, err := scanNotification(db.pool.QueryRow(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE id = $1 AND tenant_id = $2`, id, tenantID))
	if err != nil {
		return nil, dbError("get notification", err)
	}
	return n, db.attachAttempts(ctx, []*pulse.Notification{n})
}

// ListNotifications returns an alert's notifications, oldest first.
func (db *DB) ListNotifications(ctx context.Context, tenantID, alertID string) ([]*pulse.Notification, error) {
	ns, err := collect(ctx, db.pool, "list notifications", scanNotification, `SELECT `+notificationColumns+` FROM notifications
		WHERE tenant_id = $1 AND alert_id = $2 ORDER BY created_at, id`, tenantID, alertID)
	if err != nil {
		return nil, err
	}
	return ns, db.attachAttempts(ctx, ns)
}

func (db *DB) attachAttempts(ctx context.Context, ns []*pulse.Notification) error {
	for _, n := range ns {
		var err error
		n.Attempts, err = collect(ctx, db.pool, "notification attempts", func(row pgx.Row) (pulse.NotificationAttempt, error) {
			var a pulse.NotificationAttempt
			err := row.Scan(&a.Attempt, &a.At, &a.Outcome, &a.StatusCode, &a.Error, &a.DurationMS)
			a.At = a.At.UTC()
			return a, err
		}, `SELECT attempt, at, outcome, status_code, error, duration_ms FROM notification_attempts WHERE notification_id = $1 ORDER BY attempt`, n.ID)
		if err != nil {
			return err
		}
	}
	return nil
}

// ListUnqueuedNotifications returns pending notifications not yet queued.
func (db *DB) ListUnqueuedNotifications(ctx context.Context, limit int) ([]*pulse.Notification, error) {
	return collect(ctx, db.pool, "list unqueued notifications", scanNotification, `SELECT `+notificationColumns+` FROM notifications
		WHERE NOT queued AND status = $1 ORDER BY created_at, id LIMIT $2`, pulse.NotificationPending, limit)
}

// MarkNotificationsQueued sets queued on the notifications.
func (db *DB) MarkNotificationsQueued(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := db.pool.Exec(ctx, `UPDATE notifications SET queued = true WHERE id = ANY($1::uuid[])`, ids)
	return dbError("mark notifications queued", err)
}

// RecordAttempt appends an attempt and sets the status.
func (db *DB) RecordAttempt(ctx context.Context, tenantID, id string, a pulse.NotificationAttempt, status string) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var delivered *time.Time
		if status == pulse.NotificationDelivered {
			delivered = &a.At
		}
		tag, err := tx.Exec(ctx, `UPDATE notifications SET status = $1, updated_at = $2, last_error = $3, delivered_at = coalesce($4, delivered_at)
			WHERE id = $5 AND tenant_id = $6`, status, a.At, a.Error, delivered, id, tenantID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return pulse.ErrNotFound
		}
		_, err = tx.Exec(ctx, `INSERT INTO notification_attempts (notification_id, attempt, at, outcome, status_code, error, duration_ms)
			SELECT $1, coalesce(max(attempt), 0) + 1, $2, $3, $4, $5, $6 FROM notification_attempts WHERE notification_id = $1`,
			id, a.At, a.Outcome, a.StatusCode, a.Error, a.DurationMS)
		return err
	})
	return dbError("record attempt", err)
}

// RetryNotification puts a failed notification back to pending.
func (db *DB) RetryNotification(ctx context.Context, tenantID, id string, at time.Time) (*pulse.Notification, error) {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM notifications WHERE id = $1 AND tenant_id = $2 FOR UPDATE`, id, tenantID).Scan(&status); err != nil {
			return err
		}
		if status != pulse.NotificationFailed {
			return pulse.Errorf(pulse.ECONFLICT, "only a failed notification can be retried; this one is %s", status)
		}
		_, err := tx.Exec(ctx, `UPDATE notifications SET status = $1, round = round + 1, queued = false, updated_at = $2 WHERE id = $3`,
			pulse.NotificationPending, at, id)
		return err
	})
	if err != nil {
		return nil, dbError("retry notification", err)
	}
	return db.GetNotification(ctx, tenantID, id)
}

// CountPendingNotifications counts notifications still to deliver.
func (db *DB) CountPendingNotifications(ctx context.Context) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE status = $1`, pulse.NotificationPending).Scan(&n)
	return n, dbError("count pending notifications", err)
}

// AcquireLease takes or renews the lease unless another holder's is unexpired.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	tag, err := db.pool.Exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= $4`, name, holder, now.Add(ttl), now)
	if err != nil {
		return false, dbError("acquire lease", err)
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseLease drops the lease if holder has it.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder)
	return dbError("release lease", err)
}

const zeroUUID = "00000000-0000-0000-0000-000000000000"

// ScanEvents returns events in id order with the fields rules need.
func (db *DB) ScanEvents(ctx context.Context, s pulse.EventScan) ([]*pulse.Event, error) {
	after := s.AfterID
	if after == "" {
		after = zeroUUID
	}
	var b strings.Builder
	args := []any{after}
	if s.IDsOnly {
		b.WriteString(`SELECT id::text FROM events WHERE id > $1::uuid`)
	} else {
		b.WriteString(`SELECT id::text, tenant_id, event_type, severity, service, endpoint, status_code, user_id, tags, ts FROM events WHERE id > $1::uuid`)
	}
	arg := func(cond string, v any) {
		args = append(args, v)
		b.WriteString(" AND " + strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if s.TenantID != "" {
		arg("tenant_id = ?", s.TenantID)
	}
	if s.UpToID != "" {
		arg("id <= ?::uuid", s.UpToID)
	}
	if !s.Since.IsZero() {
		arg("ts >= ?", s.Since)
	}
	args = append(args, s.Limit)
	b.WriteString(` ORDER BY id LIMIT $` + strconv.Itoa(len(args)))
	return collect(ctx, db.pool, "scan events", func(row pgx.Row) (*pulse.Event, error) {
		var e pulse.Event
		if s.IDsOnly {
			return &e, row.Scan(&e.ID)
		}
		var status *int32
		var tags []byte
		if err := row.Scan(&e.ID, &e.TenantID, &e.EventType, &e.Severity, &e.Service, &e.Endpoint, &status, &e.UserID, &tags, &e.Timestamp); err != nil {
			return nil, err
		}
		if status != nil {
			e.StatusCode = int(*status)
		}
		if tags != nil {
			if err := json.Unmarshal(tags, &e.Tags); err != nil {
				return nil, fmt.Errorf("event %s: tags: %w", e.ID, err)
			}
		}
		e.Timestamp = e.Timestamp.UTC()
		return &e, nil
	}, b.String(), args...)
}

// MaxEventID returns the greatest event id, "" when there are no events.
func (db *DB) MaxEventID(ctx context.Context) (string, error) {
	var id string
	err := db.pool.QueryRow(ctx, `SELECT id::text FROM events ORDER BY id DESC LIMIT 1`).Scan(&id)
	if err == pgx.ErrNoRows {
		return "", nil
	} else if err != nil {
		return "", dbError("max event id", err)
	}
	return id, nil
}
