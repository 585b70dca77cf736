package sqlite

import (
	"cmp"
	"container/heap"
	"context"
	"database/sql"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Reads of a parts database (docs/STORAGE.md, "Parts store: write path and
// reads"). Every read runs in one read transaction on the read pool — one
// snapshot, so a merge that replaces blocks meanwhile is invisible to it —
// and never holds the writer. Candidate blocks are chosen by SQL on the
// block columns, skipped by their Meta (MayMatch) when no event of theirs
// can match, and decoded through the block cache; each event is then
// checked with EventFilter.Matches.

var _ pulse.TextSearcher = (*DB)(nil)

// readTx runs fn in one read transaction (one snapshot of the file).
func (db *DB) readTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return storeErr(op, err)
	}
	defer tx.Rollback() // read only: nothing to commit
	return fn(tx)
}

func (b *blockInfo) key() blockKey { return blockKey{b.Seq, b.Count, b.Meta.MinID, b.Meta.MaxID} }

// blockPage is how many block rows one query of a blockPager reads.
const blockPage = 32

// blockPager walks a tenant's blocks that may hold events with lo <= ts <=
// hi (microseconds), newest max_ts first, a page of rows at a time: a
// search that fills its page early reads few block rows.
type blockPager struct {
	tx          *sql.Tx
	tenant      int64
	lo, hi      int64
	atTS, atSeq int64 // the last block read; the next page starts below it
	page        []blockInfo
	done        bool
}

func newBlockPager(tx *sql.Tx, tenant, lo, hi int64) *blockPager {
	return &blockPager{tx: tx, tenant: tenant, lo: lo, hi: hi, atTS: math.MaxInt64, atSeq: math.MaxInt64}
}

// peek returns the next block, nil after the last.
func (p *blockPager) peek(ctx context.Context) (*blockInfo, error) {
	if len(p.page) == 0 && !p.done {
		// The meta (blooms: tens of KiB per block) is not read here but
		// per block the walk reaches (metaOf): a newest-first page usually
		// looks at one or two blocks of the page.
		rows, err := p.tx.QueryContext(ctx, `SELECT `+blockHeadColumns+` FROM event_blocks
			WHERE tenant = ? AND max_ts >= ? AND min_ts <= ? AND (max_ts, seq) < (?, ?)
			ORDER BY max_ts DESC, seq DESC LIMIT ?`, p.tenant, p.lo, p.hi, p.atTS, p.atSeq, blockPage)
		if err != nil {
			return nil, storeErr("read blocks", err)
		}
		p.page, err = scanBlockHeads(rows)
		if err != nil {
			return nil, err
		}
		if len(p.page) < blockPage {
			p.done = true
		}
		if n := len(p.page); n > 0 {
			p.atTS, p.atSeq = micros(p.page[n-1].Meta.MaxTS), p.page[n-1].Seq
		}
	}
	if len(p.page) == 0 {
		return nil, nil
	}
	return &p.page[0], nil
}

func (p *blockPager) pop() { p.page = p.page[1:] }

// newestFirst yields a tenant's events that pass a filter in the search
// order — (timestamp, id) descending — across blocks whose time ranges
// overlap: a k-way merge that opens a block only once the next event may
// be in it (its max_ts is not below the newest event not yet yielded).
type newestFirst struct {
	db       *DB
	tx       *sql.Tx
	tenantID string
	may      *pulse.EventFilter // a block is skipped unless its Meta may match this
	cand     *pulse.EventFilter // each event yielded passes this (Text is not checked)
	lo       int64              // Start, microseconds
	blocks   *blockPager
	open     blockHeap
	opened   int // blocks decoded so far (blockEvents keeps the first cacheFirst)
}

// blockIter is an open block: events ascending, cur the next to yield.
type blockIter struct {
	events []*pulse.Event
	pos    int // the next event to look at, downwards
	cur    *pulse.Event
}

type blockHeap []*blockIter

func (h blockHeap) Len() int           { return len(h) }
func (h blockHeap) Less(i, j int) bool { return newer(h[i].cur, h[j].cur) }
func (h blockHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *blockHeap) Push(x any)        { *h = append(*h, x.(*blockIter)) }
func (h *blockHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// newer reports whether a comes before b in the search order.
func newer(a, b *pulse.Event) bool {
	if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
		return c > 0
	}
	return a.ID > b.ID
}

// newestFirst starts the walk; f's paging (After) and time range bound it,
// may decides which blocks are read, f without Text which events pass.
func (db *DB) newestFirst(tx *sql.Tx, tenant int64, tenantID string, may *pulse.EventFilter) *newestFirst {
	cand := *may
	cand.Text = nil
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !cand.Start.IsZero() {
		lo = micros(cand.Start)
	}
	if !cand.End.IsZero() {
		hi = micros(cand.End) - 1
	}
	if cand.After != nil {
		hi = min(hi, micros(cand.After.Timestamp))
	}
	return &newestFirst{db: db, tx: tx, tenantID: tenantID, may: may, cand: &cand, lo: lo, blocks: newBlockPager(tx, tenant, lo, hi)}
}

// next returns the next event, nil after the last. The event is the
// cache's: the caller copies it before handing it out.
func (it *newestFirst) next(ctx context.Context) (*pulse.Event, error) {
	for {
		b, err := it.blocks.peek(ctx)
		if err != nil {
			return nil, err
		}
		if b != nil && (len(it.open) == 0 || micros(b.Meta.MaxTS) >= micros(it.open[0].cur.Timestamp)) {
			it.blocks.pop()
			meta, err := it.db.metaOf(ctx, it.tx, b, it.may)
			if err != nil {
				return nil, err
			}
			if !meta.MayMatch(it.may) {
				continue
			}
			it.opened++
			events, err := it.db.blockEvents(ctx, it.tx, b.key(), it.tenantID, it.opened <= cacheFirst)
			if err != nil {
				return nil, err
			}
			bi := &blockIter{events: events, pos: len(events) - 1}
			if c := it.cand.After; c != nil { // strictly older than the cursor
				bi.pos = sort.Search(len(events), func(i int) bool {
					e := events[i]
					return e.Timestamp.After(c.Timestamp) || e.Timestamp.Equal(c.Timestamp) && e.ID >= c.ID
				}) - 1
			}
			if end := it.cand.End; !end.IsZero() {
				bi.pos = min(bi.pos, sort.Search(len(events), func(i int) bool { return !events[i].Timestamp.Before(end) })-1)
			}
			if it.opened > cacheFirst {
				it.keepMatches(bi)
			}
			if it.advance(bi) {
				heap.Push(&it.open, bi)
			}
			continue
		}
		if len(it.open) == 0 {
			return nil, nil
		}
		top := it.open[0]
		e := top.cur
		if it.advance(top) {
			heap.Fix(&it.open, 0)
		} else {
			heap.Pop(&it.open)
		}
		return e, nil
	}
}

// keepMatches makes an open block that is not in the cache hold only
// what the walk may still yield: when few of its events pass the filter,
// they are copied out (cloneEvent) and the decoded block is let go. A
// walk for a rare value opens many blocks and keeps each open until its
// last match is yielded; without this it would hold them all decoded
// (tens of MiB for 30 blocks of 16,384 events).
func (it *newestFirst) keepMatches(bi *blockIter) {
	var keep []*pulse.Event
	for i := 0; i <= bi.pos; i++ {
		e := bi.events[i]
		if micros(e.Timestamp) >= it.lo && it.cand.Matches(e) {
			if keep = append(keep, e); len(keep) > len(bi.events)/8 {
				return // many match: the block itself is the cheaper copy
			}
		}
	}
	for i, e := range keep {
		keep[i] = cloneEvent(e)
	}
	bi.events, bi.pos = keep, len(keep)-1
}

// advance moves bi to its next event that passes the filter.
func (it *newestFirst) advance(bi *blockIter) bool {
	for bi.pos >= 0 {
		e := bi.events[bi.pos]
		bi.pos--
		if micros(e.Timestamp) < it.lo {
			bi.pos = -1 // the rest is older still
			break
		}
		if it.cand.Matches(e) {
			bi.cur = e
			return true
		}
	}
	bi.cur = nil
	return false
}

// microBounds cuts f's Start and End to the microsecond, as the rows
// queries compare them (ts >= µs(Start), ts < µs(End)): a time given with
// nanoseconds selects the same events in both stores.
func microBounds(f *pulse.EventFilter) {
	if !f.Start.IsZero() {
		f.Start = fromMicros(micros(f.Start))
	}
	if !f.End.IsZero() {
		f.End = fromMicros(micros(f.End))
	}
}

// searchLimit is SearchEvents' page size for f.
func searchLimit(f *pulse.EventFilter) int {
	if f.Limit <= 0 {
		return pulse.DefaultSearchLimit
	}
	return min(f.Limit, pulse.MaxSearchLimit+1)
}

// searchParts is SearchEvents on a parts database; like rows mode it does
// not read f.Text (SearchText does).
func (db *DB) searchParts(ctx context.Context, tenant int64, tenantID string, f pulse.EventFilter) ([]*pulse.Event, error) {
	f.Text = nil
	microBounds(&f)
	limit, skip := searchLimit(&f), max(f.Offset, 0)
	out := []*pulse.Event{}
	err := db.readTx(ctx, "search events", func(tx *sql.Tx) error {
		it := db.newestFirst(tx, tenant, tenantID, &f)
		for len(out) < limit {
			e, err := it.next(ctx)
			if err != nil || e == nil {
				return err
			}
			if skip > 0 {
				skip--
				continue
			}
			out = append(out, copyEvent(e))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SearchText answers a q= search (pulse.TextSearcher). A rows database
// scans through SearchEvents (pulse.ScanText). A parts database walks its
// blocks newest first itself and skips every block whose Meta says no
// event of it can hold the text, so that only decoded candidates — events
// that pass every other filter — count against budget; the answer and the
// resume cursor follow pulse.SearchText's contract.
func (db *DB) SearchText(ctx context.Context, tenantID string, f pulse.EventFilter, budget int) ([]*pulse.Event, *pulse.Cursor, error) {
	if !db.parts {
		return pulse.ScanText(ctx, db, tenantID, f, budget)
	}
	events := []*pulse.Event{}
	if budget <= 0 {
		return events, f.After, nil
	}
	if f.NoMatch || f.Severities != nil && len(f.Severities) == 0 {
		return events, nil, nil
	}
	tenant, ok, err := db.tenantNum(ctx, tenantID)
	if err != nil || !ok {
		return events, nil, err
	}
	microBounds(&f)
	limit, skip := f.Limit, f.Offset
	if limit <= 0 {
		limit = pulse.DefaultSearchLimit
	}
	var resume *pulse.Cursor
	err = db.readTx(ctx, "search text", func(tx *sql.Tx) error {
		it := db.newestFirst(tx, tenant, tenantID, &f)
		var last *pulse.Event
		for scanned := 0; ; scanned++ {
			e, err := it.next(ctx)
			if err != nil || e == nil {
				return err
			}
			if scanned == budget { // more candidates than the budget
				c := pulse.CursorAfter(last)
				resume = &c
				return nil
			}
			last = e
			if !pulse.MatchesText(e, f.Text) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			events = append(events, copyEvent(e))
			if len(events) == limit {
				return nil
			}
		}
	})
	if err != nil {
		return nil, nil, err
	}
	return events, resume, nil
}

// getEventParts is GetEvent on a parts database: the tenant's blocks whose
// id range holds id.
func (db *DB) getEventParts(ctx context.Context, tenant int64, tenantID, id string) (*pulse.Event, error) {
	var found *pulse.Event
	err := db.readTx(ctx, "get event", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+blockHeadColumns+` FROM event_blocks
			WHERE tenant = ? AND max_id >= ? AND min_id <= ?`, tenant, id, id)
		if err != nil {
			return storeErr("get event", err)
		}
		blocks, err := scanBlockHeads(rows)
		if err != nil {
			return err
		}
		for _, b := range blocks {
			events, err := db.blockEvents(ctx, tx, b.key(), tenantID, true)
			if err != nil {
				return err
			}
			for _, e := range events {
				if e.ID == id {
					found = copyEvent(e)
					return nil
				}
			}
		}
		return storeErr("get event", sql.ErrNoRows)
	})
	return found, err
}

// histogramParts is EventHistogram on a parts database, with the rows
// query's counting: buckets by integer division of microseconds, the top
// groups by count then name, the rest in Other rows.
func (db *DB) histogramParts(ctx context.Context, tenant int64, tenantID string, q pulse.HistogramQuery) ([]pulse.HistogramCount, error) {
	f := q.Filter
	f.Text, f.After = nil, nil
	microBounds(&f)
	step := q.Interval.Microseconds()
	type cell struct {
		b int64
		g string
	}
	cells := map[cell]int64{}
	totals := map[string]int64{}
	err := db.readTx(ctx, "event histogram", func(tx *sql.Tx) error {
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		if !f.Start.IsZero() {
			lo = micros(f.Start)
		}
		if !f.End.IsZero() {
			hi = micros(f.End) - 1
		}
		opened := 0
		for p := newBlockPager(tx, tenant, lo, hi); ; p.pop() {
			b, err := p.peek(ctx)
			if err != nil || b == nil {
				return err
			}
			meta, err := db.metaOf(ctx, tx, b, &f)
			if err != nil {
				return err
			}
			if !meta.MayMatch(&f) {
				continue
			}
			opened++
			events, err := db.blockEvents(ctx, tx, b.key(), tenantID, opened <= cacheFirst)
			if err != nil {
				return err
			}
			for _, e := range events {
				if !f.Matches(e) {
					continue
				}
				g := q.HistogramGroup(e)
				cells[cell{micros(e.Timestamp) / step * step, g}]++
				totals[g]++
			}
		}
	})
	if err != nil {
		return nil, err
	}
	top := map[string]bool{}
	if q.GroupBy != pulse.GroupNone {
		groups := make([]string, 0, len(totals))
		for g := range totals {
			groups = append(groups, g)
		}
		slices.SortFunc(groups, func(a, b string) int {
			return cmp.Or(cmp.Compare(totals[b], totals[a]), strings.Compare(a, b))
		})
		for _, g := range groups[:min(len(groups), max(q.Groups, 1))] {
			top[g] = true
		}
	}
	type outKey struct {
		b     int64
		g     string
		other bool
	}
	sums := map[outKey]int64{}
	for c, n := range cells {
		k := outKey{b: c.b}
		if q.GroupBy != pulse.GroupNone {
			if top[c.g] {
				k.g = c.g
			} else {
				k.other = true
			}
		}
		sums[k] += n
	}
	out := make([]pulse.HistogramCount, 0, len(sums))
	for k, n := range sums {
		out = append(out, pulse.HistogramCount{Bucket: fromMicros(k.b), Group: k.g, Other: k.other, Count: n})
	}
	return out, nil
}

// scanParts is ScanEvents on a parts database: the blocks with events
// above s.AfterID, merged in id order, opened only once the next id may be
// in them.
func (db *DB) scanParts(ctx context.Context, s pulse.EventScan) ([]*pulse.Event, error) {
	type block struct {
		key      blockKey
		tenantID string
	}
	var b strings.Builder
	b.WriteString(`SELECT e.seq, e.count, e.min_id, e.max_id, t.id FROM event_blocks AS e
		JOIN tenants AS t ON t.num = e.tenant WHERE e.max_id > ?`)
	args := []any{s.AfterID}
	if s.TenantID != "" {
		b.WriteString(` AND t.id = ?`)
		args = append(args, s.TenantID)
	}
	if s.UpToID != "" {
		b.WriteString(` AND e.min_id <= ?`)
		args = append(args, s.UpToID)
	}
	if !s.Since.IsZero() {
		b.WriteString(` AND e.max_ts >= ?`)
		args = append(args, micros(s.Since))
	}
	b.WriteString(` ORDER BY e.min_id`)
	out := []*pulse.Event{}
	if s.Limit == 0 {
		return out, nil
	}
	err := db.readTx(ctx, "scan events", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, b.String(), args...)
		if err != nil {
			return storeErr("scan events", err)
		}
		var blocks []block
		for rows.Next() {
			var k block
			if err := rows.Scan(&k.key.seq, &k.key.count, &k.key.minID, &k.key.maxID, &k.tenantID); err != nil {
				rows.Close()
				return storeErr("scan events", err)
			}
			blocks = append(blocks, k)
		}
		if err := rows.Close(); err != nil {
			return storeErr("scan events", err)
		}
		var open idHeap // per open block: its selected events by id, the smallest first
		for len(out) != s.Limit {
			if len(blocks) > 0 && (len(open) == 0 || blocks[0].key.minID <= open[0][0].ID) {
				k := blocks[0]
				blocks = blocks[1:]
				events, err := db.blockEvents(ctx, tx, k.key, k.tenantID, true)
				if err != nil {
					return err
				}
				var sel []*pulse.Event
				for _, e := range events {
					if e.ID > s.AfterID && (s.UpToID == "" || e.ID <= s.UpToID) && !e.Timestamp.Before(s.Since) {
						sel = append(sel, e)
					}
				}
				if len(sel) > 0 {
					slices.SortFunc(sel, func(a, b *pulse.Event) int { return strings.Compare(a.ID, b.ID) })
					heap.Push(&open, sel)
				}
				continue
			}
			if len(open) == 0 {
				return nil
			}
			e := open[0][0]
			if open[0] = open[0][1:]; len(open[0]) > 0 {
				heap.Fix(&open, 0)
			} else {
				heap.Pop(&open)
			}
			if s.IDsOnly {
				out = append(out, &pulse.Event{ID: e.ID})
			} else {
				out = append(out, &pulse.Event{ID: e.ID, TenantID: e.TenantID, EventType: e.EventType, Severity: e.Severity,
					Service: e.Service, Endpoint: e.Endpoint, StatusCode: e.StatusCode, UserID: e.UserID, Tags: e.Tags, Timestamp: e.Timestamp})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// idHeap holds non-empty runs of events sorted by id; the run with the
// smallest first id on top.
type idHeap [][]*pulse.Event

func (h idHeap) Len() int           { return len(h) }
func (h idHeap) Less(i, j int) bool { return h[i][0].ID < h[j][0].ID }
func (h idHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *idHeap) Push(x any)        { *h = append(*h, x.([]*pulse.Event)) }
func (h *idHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// maxEventIDParts is MaxEventID on a parts database.
func (db *DB) maxEventIDParts(ctx context.Context) (string, error) {
	var id sql.NullString
	if err := db.read.QueryRowContext(ctx, `SELECT max(max_id) FROM event_blocks`).Scan(&id); err != nil {
		return "", storeErr("max event id", err)
	}
	return id.String, nil
}
