package httpapi

import (
	"io"
	"net/http"
	"strconv"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// adminBackup streams a consistent copy of the SQLite database (with the
// usage counters this node held in memory) as application/vnd.sqlite3.
func (s *Server) adminBackup(w http.ResponseWriter, r *http.Request) {
	if s.Backup == nil {
		s.writeError(w, r, pulse.Errorf(pulse.EBADREQUEST, "backups over HTTP copy the embedded database only; for PostgreSQL use pg_dump or PITR (docs/RUNBOOK.md)"))
		return
	}
	f, err := s.Backup(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.sqlite3")
	w.Header().Set("Content-Disposition", `attachment; filename="pulsestream-backup.db"`)
	w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, f); err != nil {
		s.logger.Warn("backup download cut short", "err", err)
	}
}
