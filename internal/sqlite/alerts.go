package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

var _ pulse.AlertStore = (*DB)(nil)

const ruleColumns = `id, tenant_id, spec, created_at, updated_at`

func scanRule(row scanner) (*pulse.Rule, error) {
	var r pulse.Rule
	var spec string
	var created, updated int64
	if err := row.Scan(&r.ID, &r.TenantID, &spec, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(spec), &r.RuleSpec); err != nil {
		return nil, fmt.Errorf("rule %s: spec: %w", r.ID, err)
	}
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	r.Compile()
	return &r, nil
}

// CreateRule stores r; ECONFLICT when its id exists.
func (db *DB) CreateRule(ctx context.Context, r *pulse.Rule) error {
	spec, err := json.Marshal(r.RuleSpec)
	if err != nil {
		return fmt.Errorf("create rule: %w", err)
	}
	_, err = db.write.ExecContext(ctx, `INSERT INTO alert_rules (id, tenant_id, spec, enabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		r.ID, r.TenantID, string(spec), r.IsEnabled(), micros(r.CreatedAt), micros(r.UpdatedAt))
	if isConstraint(err, sqlite3.ErrConstraintPrimaryKey) {
		return &pulse.Error{Code: pulse.ECONFLICT, Message: "a rule with this id exists", ID: r.ID}
	}
	if err != nil {
		return storeErr("create rule", err)
	}
	return nil
}

// GetRule returns ErrNotFound for a missing, deleted or other tenant's rule.
func (db *DB) GetRule(ctx context.Context, tenantID, id string) (*pulse.Rule, error) {
	r, err := scanRule(db.read.QueryRowContext(ctx, `SELECT `+ruleColumns+` FROM alert_rules WHERE id = ? AND tenant_id = ? AND deleted_at IS NULL`, id, tenantID))
	if err != nil {
		return nil, storeErr("get rule", err)
	}
	return r, nil
}

// ListRules returns the tenant's rules, oldest first.
func (db *DB) ListRules(ctx context.Context, tenantID string) ([]*pulse.Rule, error) {
	return queryAll(ctx, db, "list rules", scanRule, `SELECT `+ruleColumns+` FROM alert_rules
		WHERE tenant_id = ? AND deleted_at IS NULL ORDER BY created_at, id`, tenantID)
}

// UpdateRule replaces the rule; ErrNotFound when it is missing or deleted.
func (db *DB) UpdateRule(ctx context.Context, r *pulse.Rule) error {
	spec, err := json.Marshal(r.RuleSpec)
	if err != nil {
		return fmt.Errorf("update rule: %w", err)
	}
	res, err := db.write.ExecContext(ctx, `UPDATE alert_rules SET spec = ?, enabled = ?, updated_at = ?
		WHERE id = ? AND tenant_id = ? AND deleted_at IS NULL`, string(spec), r.IsEnabled(), micros(r.UpdatedAt), r.ID, r.TenantID)
	return affectedOne("update rule", res, err)
}

// DeleteRule marks the rule deleted; ErrNotFound when it is missing.
func (db *DB) DeleteRule(ctx context.Context, tenantID, id string, at time.Time) error {
	res, err := db.write.ExecContext(ctx, `UPDATE alert_rules SET deleted_at = ?, enabled = 0, updated_at = ?
		WHERE id = ? AND tenant_id = ? AND deleted_at IS NULL`, micros(at), micros(at), id, tenantID)
	return affectedOne("delete rule", res, err)
}

// affectedOne turns "no row changed" into ErrNotFound.
func affectedOne(op string, res sql.Result, err error) error {
	if err != nil {
		return storeErr(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return storeErr(op, err)
	}
	if n == 0 {
		return pulse.ErrNotFound
	}
	return nil
}

// ListEnabledRules returns every enabled rule of every enabled tenant.
func (db *DB) ListEnabledRules(ctx context.Context) ([]*pulse.Rule, error) {
	return queryAll(ctx, db, "list enabled rules", scanRule, `SELECT r.id, r.tenant_id, r.spec, r.created_at, r.updated_at
		FROM alert_rules AS r JOIN tenants AS t ON t.id = r.tenant_id
		WHERE r.enabled = 1 AND r.deleted_at IS NULL AND t.disabled = 0 ORDER BY r.id`)
}

const alertColumns = `id, tenant_id, rule_id, rule_name, group_key, group_labels, status, value, threshold, started_at, resolved_at, acknowledged_at, sample_ids, silenced`

func scanAlert(row scanner) (*pulse.Alert, error) {
	var a pulse.Alert
	var labels sql.NullString
	var samples string
	var started int64
	var resolved, acked sql.NullInt64
	if err := row.Scan(&a.ID, &a.TenantID, &a.RuleID, &a.RuleName, &a.GroupKey, &labels, &a.Status, &a.Value, &a.Threshold,
		&started, &resolved, &acked, &samples, &a.Silenced); err != nil {
		return nil, err
	}
	if labels.Valid {
		if err := json.Unmarshal([]byte(labels.String), &a.Group); err != nil {
			return nil, fmt.Errorf("alert %s: group: %w", a.ID, err)
		}
	}
	if err := json.Unmarshal([]byte(samples), &a.SampleEventIDs); err != nil {
		return nil, fmt.Errorf("alert %s: samples: %w", a.ID, err)
	}
	a.StartedAt = fromMicros(started)
	a.ResolvedAt, a.AcknowledgedAt = optMicros(resolved), optMicros(acked)
	return &a, nil
}

func optMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// FireAlert stores a firing alert, its first history entry and its
// notifications in one transaction; ECONFLICT when one is already firing.
func (db *DB) FireAlert(ctx context.Context, a *pulse.Alert, notes []*pulse.Notification) error {
	var labels any
	if len(a.Group) > 0 {
		b, _ := json.Marshal(a.Group)
		labels = string(b)
	}
	samples, _ := json.Marshal(nonNil(a.SampleEventIDs))
	return db.inTx(ctx, "fire alert", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO alerts (`+alertColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?)`,
			a.ID, a.TenantID, a.RuleID, a.RuleName, a.GroupKey, labels, pulse.AlertFiring, a.Value, a.Threshold,
			micros(a.StartedAt), string(samples), a.Silenced)
		if isConstraint(err, sqlite3.ErrConstraintUnique) || isConstraint(err, sqlite3.ErrConstraintPrimaryKey) {
			return pulse.Errorf(pulse.ECONFLICT, "the rule already has a firing alert for this group")
		} else if err != nil {
			return storeErr("fire alert", err)
		}
		if err := addHistory(ctx, tx, a.ID, pulse.AlertFiring, a.StartedAt, a.Value); err != nil {
			return err
		}
		return insertNotifications(ctx, tx, notes)
	})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func addHistory(ctx context.Context, tx *sql.Tx, alertID, status string, at time.Time, value float64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO alert_history (alert_id, seq, status, at, value)
		SELECT ?, coalesce(max(seq), 0) + 1, ?, ?, ? FROM alert_history WHERE alert_id = ?`, alertID, status, micros(at), value, alertID)
	if err != nil {
		return storeErr("alert history", err)
	}
	return nil
}

// ResolveAlert resolves a firing alert; ECONFLICT when it is not firing.
func (db *DB) ResolveAlert(ctx context.Context, tenantID, id string, at time.Time, value float64, notes []*pulse.Notification) error {
	return db.inTx(ctx, "resolve alert", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE alerts SET status = ?, resolved_at = ?, value = ? WHERE id = ? AND tenant_id = ? AND status = ?`,
			pulse.AlertResolved, micros(at), value, id, tenantID, pulse.AlertFiring)
		if err := affectedOne("resolve alert", res, err); pulse.IsNotFound(err) {
			return pulse.Errorf(pulse.ECONFLICT, "the alert is not firing")
		} else if err != nil {
			return err
		}
		if err := addHistory(ctx, tx, id, pulse.AlertResolved, at, value); err != nil {
			return err
		}
		return insertNotifications(ctx, tx, notes)
	})
}

// AcknowledgeAlert records the first acknowledgement.
func (db *DB) AcknowledgeAlert(ctx context.Context, tenantID, id string, at time.Time) (*pulse.Alert, error) {
	err := db.inTx(ctx, "acknowledge alert", func(tx *sql.Tx) error {
		var acked sql.NullInt64
		var value float64
		err := tx.QueryRowContext(ctx, `SELECT acknowledged_at, value FROM alerts WHERE id = ? AND tenant_id = ?`, id, tenantID).Scan(&acked, &value)
		if err != nil {
			return storeErr("acknowledge alert", err)
		}
		if acked.Valid {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE alerts SET acknowledged_at = ? WHERE id = ?`, micros(at), id); err != nil {
			return storeErr("acknowledge alert", err)
		}
		return addHistory(ctx, tx, id, pulse.AlertAcknowledged, at, value)
	})
	if err != nil {
		return nil, err
	}
	return db.GetAlert(ctx, tenantID, id)
}

// GetAlert returns the alert with its history.
func (db *DB) GetAlert(ctx context.Context, tenantID, id string) (*pulse.Alert, error) {
	a, err := scanAlert(db.read.QueryRowContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = ? AND tenant_id = ?`, id, tenantID))
	if err != nil {
		return nil, storeErr("get alert", err)
	}
	a.History, err = queryAll(ctx, db, "alert history", func(row scanner) (pulse.AlertState, error) {
		var s pulse.AlertState
		var at int64
		err := row.Scan(&s.Status, &at, &s.Value)
		s.At = fromMicros(at)
		return s, err
	}, `SELECT status, at, value FROM alert_history WHERE alert_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// ListAlerts returns the tenant's alerts newest first.
func (db *DB) ListAlerts(ctx context.Context, tenantID string, f pulse.AlertFilter) ([]*pulse.Alert, error) {
	q := `SELECT ` + alertColumns + ` FROM alerts WHERE tenant_id = ?`
	args := []any{tenantID}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	if f.RuleID != "" {
		q += ` AND rule_id = ?`
		args = append(args, f.RuleID)
	}
	if f.After != "" {
		q += ` AND id < ?`
		args = append(args, f.After)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	return queryAll(ctx, db, "list alerts", scanAlert, q, args...)
}

// ListFiringAlerts returns every tenant's firing alerts.
func (db *DB) ListFiringAlerts(ctx context.Context) ([]*pulse.Alert, error) {
	return queryAll(ctx, db, "list firing alerts", scanAlert, `SELECT `+alertColumns+` FROM alerts WHERE status = ?`, pulse.AlertFiring)
}

const silenceColumns = `id, tenant_id, rule_id, matchers, starts_at, ends_at, comment, created_at`

func scanSilence(row scanner) (*pulse.Silence, error) {
	var s pulse.Silence
	var matchers sql.NullString
	var starts, ends, created int64
	if err := row.Scan(&s.ID, &s.TenantID, &s.RuleID, &matchers, &starts, &ends, &s.Comment, &created); err != nil {
		return nil, err
	}
	if matchers.Valid {
		if err := json.Unmarshal([]byte(matchers.String), &s.Matchers); err != nil {
			return nil, fmt.Errorf("silence %s: %w", s.ID, err)
		}
	}
	s.StartsAt, s.EndsAt, s.CreatedAt = fromMicros(starts), fromMicros(ends), fromMicros(created)
	return &s, nil
}

// CreateSilence stores s.
func (db *DB) CreateSilence(ctx context.Context, s *pulse.Silence) error {
	var matchers any
	if len(s.Matchers) > 0 {
		b, _ := json.Marshal(s.Matchers)
		matchers = string(b)
	}
	_, err := db.write.ExecContext(ctx, `INSERT INTO silences (`+silenceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.TenantID, s.RuleID, matchers, micros(s.StartsAt), micros(s.EndsAt), s.Comment, micros(s.CreatedAt))
	if err != nil {
		return storeErr("create silence", err)
	}
	return nil
}

// ListSilences returns the tenant's silences, oldest first.
func (db *DB) ListSilences(ctx context.Context, tenantID string) ([]*pulse.Silence, error) {
	return queryAll(ctx, db, "list silences", scanSilence, `SELECT `+silenceColumns+` FROM silences WHERE tenant_id = ? ORDER BY created_at, id`, tenantID)
}

// DeleteSilence removes a silence; ErrNotFound when missing.
func (db *DB) DeleteSilence(ctx context.Context, tenantID, id string) error {
	res, err := db.write.ExecContext(ctx, `DELETE FROM silences WHERE id = ? AND tenant_id = ?`, id, tenantID)
	return affectedOne("delete silence", res, err)
}

// ListActiveSilences returns silences that have not ended at at.
func (db *DB) ListActiveSilences(ctx context.Context, at time.Time) ([]*pulse.Silence, error) {
	return queryAll(ctx, db, "list active silences", scanSilence, `SELECT `+silenceColumns+` FROM silences WHERE ends_at > ?`, micros(at))
}

const notificationColumns = `id, tenant_id, alert_id, rule_id, kind, url, secret, payload, status, round, queued, created_at, updated_at, delivered_at, last_error`

func scanNotification(row scanner) (*pulse.Notification, error) {
	var n pulse.Notification
	var created, updated int64
	var delivered sql.NullInt64
	var payload []byte
	if err := row.Scan(&n.ID, &n.TenantID, &n.AlertID, &n.RuleID, &n.Kind, &n.URL, &n.Secret, &payload, &n.Status, &n.Round, &n.Queued,
		&created, &updated, &delivered, &n.LastError); err != nil {
		return nil, err
	}
	n.Payload = payload
	n.CreatedAt, n.UpdatedAt, n.DeliveredAt = fromMicros(created), fromMicros(updated), optMicros(delivered)
	n.Attempts = []pulse.NotificationAttempt{}
	return &n, nil
}

func insertNotifications(ctx context.Context, tx *sql.Tx, notes []*pulse.Notification) error {
	for _, n := range notes {
		_, err := tx.ExecContext(ctx, `INSERT INTO notifications (`+notificationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, '')`,
			n.ID, n.TenantID, n.AlertID, n.RuleID, n.Kind, n.URL, n.Secret, []byte(n.Payload), n.Status, n.Round, n.Queued,
			micros(n.CreatedAt), micros(n.UpdatedAt))
		if err != nil {
			return storeErr("insert notification", err)
		}
	}
	return nil
}

// CreateNotifications stores notifications in one transaction.
func (db *DB) CreateNotifications(ctx context.Context, notes []*pulse.Notification) error {
	return db.inTx(ctx, "create notifications", func(tx *sql.Tx) error { return insertNotifications(ctx, tx, notes) })
}

// GetNotification returns the notification with its attempts.
func (db *DB) GetNotification(ctx context.Context, tenantID, id string) (*pulse.Notification, error) {
	n, err := scanNotification(db.read.QueryRowContext(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE id = ? AND tenant_id = ?`, id, tenantID))
	if err != nil {
		return nil, storeErr("get notification", err)
	}
	return n, db.attachAttempts(ctx, []*pulse.Notification{n})
}

// ListNotifications returns an alert's notifications, oldest first.
func (db *DB) ListNotifications(ctx context.Context, tenantID, alertID string) ([]*pulse.Notification, error) {
	ns, err := queryAll(ctx, db, "list notifications", scanNotification, `SELECT `+notificationColumns+` FROM notifications
		WHERE tenant_id = ? AND alert_id = ? ORDER BY created_at, id`, tenantID, alertID)
	if err != nil {
		return nil, err
	}
	return ns, db.attachAttempts(ctx, ns)
}

func (db *DB) attachAttempts(ctx context.Context, ns []*pulse.Notification) error {
	for _, n := range ns {
		var err error
		n.Attempts, err = queryAll(ctx, db, "notification attempts", func(row scanner) (pulse.NotificationAttempt, error) {
			var a pulse.NotificationAttempt
			var at int64
			err := row.Scan(&a.Attempt, &at, &a.Outcome, &a.StatusCode, &a.Error, &a.DurationMS)
			a.At = fromMicros(at)
			return a, err
		}, `SELECT attempt, at, outcome, status_code, error, duration_ms FROM notification_attempts WHERE notification_id = ? ORDER BY attempt`, n.ID)
		if err != nil {
			return err
		}
	}
	return nil
}

// ListUnqueuedNotifications returns pending notifications not yet queued.
func (db *DB) ListUnqueuedNotifications(ctx context.Context, limit int) ([]*pulse.Notification, error) {
	return queryAll(ctx, db, "list unqueued notifications", scanNotification, `SELECT `+notificationColumns+` FROM notifications
		WHERE queued = 0 AND status = ? ORDER BY created_at, id LIMIT ?`, pulse.NotificationPending, limit)
}

// MarkNotificationsQueued sets queued on the notifications.
func (db *DB) MarkNotificationsQueued(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return db.inTx(ctx, "mark notifications queued", func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE notifications SET queued = 1 WHERE id = ?`, id); err != nil {
				return storeErr("mark notifications queued", err)
			}
		}
		return nil
	})
}

// RecordAttempt appends an attempt and sets the status.
func (db *DB) RecordAttempt(ctx context.Context, tenantID, id string, a pulse.NotificationAttempt, status string) error {
	return db.inTx(ctx, "record attempt", func(tx *sql.Tx) error {
		var delivered any
		if status == pulse.NotificationDelivered {
			delivered = micros(a.At)
		}
		res, err := tx.ExecContext(ctx, `UPDATE notifications SET status = ?, updated_at = ?, last_error = ?, delivered_at = coalesce(?, delivered_at)
			WHERE id = ? AND tenant_id = ?`, status, micros(a.At), a.Error, delivered, id, tenantID)
		if err := affectedOne("record attempt", res, err); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO notification_attempts (notification_id, attempt, at, outcome, status_code, error, duration_ms)
			SELECT ?, coalesce(max(attempt), 0) + 1, ?, ?, ?, ?, ? FROM notification_attempts WHERE notification_id = ?`,
			id, micros(a.At), a.Outcome, a.StatusCode, a.Error, a.DurationMS, id)
		if err != nil {
			return storeErr("record attempt", err)
		}
		return nil
	})
}

// RetryNotification puts a failed notification back to pending.
func (db *DB) RetryNotification(ctx context.Context, tenantID, id string, at time.Time) (*pulse.Notification, error) {
	err := db.inTx(ctx, "retry notification", func(tx *sql.Tx) error {
		var status string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM notifications WHERE id = ? AND tenant_id = ?`, id, tenantID).Scan(&status); err != nil {
			return storeErr("retry notification", err)
		}
		if status != pulse.NotificationFailed {
			return pulse.Errorf(pulse.ECONFLICT, "only a failed notification can be retried; this one is %s", status)
		}
		_, err := tx.ExecContext(ctx, `UPDATE notifications SET status = ?, round = round + 1, queued = 0, updated_at = ? WHERE id = ?`,
			pulse.NotificationPending, micros(at), id)
		if err != nil {
			return storeErr("retry notification", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return db.GetNotification(ctx, tenantID, id)
}

// CountPendingNotifications counts notifications still to deliver.
func (db *DB) CountPendingNotifications(ctx context.Context) (int, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM notifications WHERE status = ?`, pulse.NotificationPending).Scan(&n); err != nil {
		return 0, storeErr("count pending notifications", err)
	}
	return n, nil
}

// AcquireLease takes or renews the lease unless another holder's is unexpired.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	res, err := db.write.ExecContext(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`, name, holder, micros(now.Add(ttl)), micros(now))
	if err != nil {
		return false, storeErr("acquire lease", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, storeErr("acquire lease", err)
	}
	return n == 1, nil
}

// ReleaseLease drops the lease if holder has it.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return storeErr("release lease", err)
	}
	return nil
}

const scanColumns = `e.id, t.id, e.event_type, e.severity, e.service, e.endpoint, e.status_code, e.user_id, e.tags, e.ts`

// ScanEvents returns events in id order with the fields rules need.
func (db *DB) ScanEvents(ctx context.Context, s pulse.EventScan) ([]*pulse.Event, error) {
	if db.parts {
		return db.scanParts(ctx, s)
	}
	var b strings.Builder
	var args []any
	cols := scanColumns
	if s.IDsOnly {
		cols = "e.id"
	}
	b.WriteString(`SELECT ` + cols + ` FROM events AS e JOIN tenants AS t ON t.num = e.tenant WHERE e.id > ?`)
	args = append(args, s.AfterID)
	if s.TenantID != "" {
		b.WriteString(` AND t.id = ?`)
		args = append(args, s.TenantID)
	}
	if s.UpToID != "" {
		b.WriteString(` AND e.id <= ?`)
		args = append(args, s.UpToID)
	}
	if !s.Since.IsZero() {
		b.WriteString(` AND e.ts >= ?`)
		args = append(args, micros(s.Since))
	}
	b.WriteString(` ORDER BY e.id LIMIT ?`)
	args = append(args, s.Limit)
	return queryAll(ctx, db, "scan events", func(row scanner) (*pulse.Event, error) {
		var e pulse.Event
		if s.IDsOnly {
			return &e, row.Scan(&e.ID)
		}
		var tags sql.NullString
		var status sql.NullInt64
		var ts int64
		if err := row.Scan(&e.ID, &e.TenantID, &e.EventType, &e.Severity, &e.Service, &e.Endpoint, &status, &e.UserID, &tags, &ts); err != nil {
			return nil, err
		}
		e.StatusCode = int(status.Int64)
		if tags.Valid {
			if err := json.Unmarshal([]byte(tags.String), &e.Tags); err != nil {
				return nil, fmt.Errorf("event %s: tags: %w", e.ID, err)
			}
		}
		e.Timestamp = fromMicros(ts)
		return &e, nil
	}, b.String(), args...)
}

// MaxEventID returns the greatest event id, "" when there are no events.
func (db *DB) MaxEventID(ctx context.Context) (string, error) {
	if db.parts {
		return db.maxEventIDParts(ctx)
	}
	var id sql.NullString
	if err := db.read.QueryRowContext(ctx, `SELECT max(id) FROM events`).Scan(&id); err != nil {
		return "", storeErr("max event id", err)
	}
	return id.String, nil
}

// QueuePath is the SQLite file of the notification queue: beside the
// database, so that the queue's single connection never waits on event writes.
func (db *DB) QueuePath() string { return db.path + "-queue" }

// Path is the database file.
func (db *DB) Path() string { return db.path }
