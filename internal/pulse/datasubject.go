package pulse

import "context"

// ExportPageSize is how many events ExportUserEvents reads per query.
const ExportPageSize = 500

// ExportUserEvents calls fn with every event of the tenant whose user_id
// is userID (a data-subject access request, GDPR art. 15), newest first,
// one page of at most pageSize events per call, reading the pages on the (tenant, user_id, ts) index with
// the search cursor: memory holds one page, whatever the user's history.
// Events stored while the export runs with a timestamp newer than the
// page being read are not included. It returns how many events it passed
// to fn, and stops at the first error of the store or of fn.
func ExportUserEvents(ctx context.Context, s EventStore, tenantID, userID string, pageSize int, fn func(page []*Event) error) (int, error) {
	if userID == "" {
		return 0, Errorf(EINVALID, "user_id must not be empty")
	}
	if pageSize <= 0 || pageSize > MaxSearchLimit {
		pageSize = ExportPageSize
	}
	f := EventFilter{UserID: userID, Limit: pageSize}
	n := 0
	for {
		page, err := s.SearchEvents(ctx, tenantID, f)
		if err != nil {
			return n, err
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return n, err
			}
			n += len(page)
		}
		if len(page) < pageSize {
			return n, nil
		}
		c := CursorAfter(page[len(page)-1])
		f.After = &c
	}
}
