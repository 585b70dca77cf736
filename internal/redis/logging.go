package redis

import (
	"context"
	"fmt"
	"log/slog"

	goredis "github.com/redis/go-redis/v9"
)

// RouteClientLogs sends go-redis's own messages (which it writes through a
// process-wide logger, e.g. "failed to dial") to logger at debug level, so
// that a Redis outage shows up as the limiter's one warning per minute
// instead of a line per attempt. main calls it once; it changes a global.
func RouteClientLogs(logger *slog.Logger) {
	goredis.SetLogger(slogPrintf{logger})
}

type slogPrintf struct{ l *slog.Logger }

func (s slogPrintf) Printf(ctx context.Context, format string, v ...any) {
	s.l.DebugContext(ctx, "redis client", "msg", fmt.Sprintf(format, v...))
}
