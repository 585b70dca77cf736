package redis

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// NewClient connects to the Redis deployment named by rawURL. Accepted forms
// (userinfo and query options are optional; query options are go-redis's,
// e.g. ?dial_timeout=1s&pool_size=20):
//
//	redis://[user:pass@]host:6379[/db]             one server (rediss:// for TLS)
//	redis+cluster://[user:pass@]h1:6379,h2:6379    Redis Cluster seed nodes (rediss+cluster://)
//	redis+sentinel://[user:pass@]h1:26379,h2:26379/mymaster[/db]
//	                                               Sentinel; userinfo authenticates to the
//	                                               sentinels, ?password= to the master
//	                                               (rediss+sentinel:// for TLS)
//
// Every client honours context deadlines (ContextTimeoutEnabled), which the
// rate limiter relies on to bound each call. The client connects lazily;
// NewClient fails only on a malformed URL.
func NewClient(rawURL string) (goredis.UniversalClient, error) {
	o, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	switch {
	case o.cluster != nil:
		return goredis.NewClusterClient(o.cluster), nil
	case o.failover != nil:
		return goredis.NewFailoverClient(o.failover), nil
	default:
		return goredis.NewClient(o.single), nil
	}
}

// clientOptions holds exactly one of the three go-redis option kinds.
type clientOptions struct {
	single   *goredis.Options
	cluster  *goredis.ClusterOptions
	failover *goredis.FailoverOptions
}

// parseURL turns a NewClient URL into go-redis options. The multi-host forms
// are rewritten into go-redis's own URL syntax (the first host in the
// authority, the others as addr= options) and parsed by go-redis.
func parseURL(rawURL string) (clientOptions, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return clientOptions{}, fmt.Errorf("redis url: missing scheme, want redis://, rediss://, redis+cluster:// or redis+sentinel://")
	}
	switch scheme {
	case "redis", "rediss":
		o, err := goredis.ParseURL(rawURL)
		if err != nil {
			return clientOptions{}, urlError(err)
		}
		o.ContextTimeoutEnabled = true
		return clientOptions{single: o}, nil
	case "redis+cluster", "rediss+cluster":
		u, err := multiHostURL(strings.TrimSuffix(scheme, "+cluster"), rest)
		if err != nil {
			return clientOptions{}, err
		}
		if strings.Trim(u.Path, "/") != "" {
			return clientOptions{}, fmt.Errorf("redis url: a cluster has no database number, got path %q", u.Path)
		}
		o, err := goredis.ParseClusterURL(u.String())
		if err != nil {
			return clientOptions{}, urlError(err)
		}
		o.ContextTimeoutEnabled = true
		return clientOptions{cluster: o}, nil
	case "redis+sentinel", "rediss+sentinel":
		u, err := multiHostURL(strings.TrimSuffix(scheme, "+sentinel"), rest)
		if err != nil {
			return clientOptions{}, err
		}
		master, db, _ := strings.Cut(strings.Trim(u.Path, "/"), "/")
		if master == "" {
			return clientOptions{}, errors.New("redis url: sentinel URL needs the master name as its path, e.g. redis+sentinel://h1:26379,h2:26379/mymaster/0")
		}
		q := u.Query()
		q.Set("master_name", master)
		u.RawQuery = q.Encode()
		u.Path = "/" + db
		o, err := goredis.ParseFailoverURL(u.String())
		if err != nil {
			return clientOptions{}, urlError(err)
		}
		o.ContextTimeoutEnabled = true
		return clientOptions{failover: o}, nil
	default:
		return clientOptions{}, fmt.Errorf("redis url: unknown scheme %q, want redis, rediss, redis+cluster or redis+sentinel", scheme)
	}
}

// multiHostURL parses "[userinfo@]h1,h2[/path][?query]" into a URL with
// scheme, h1 as host and h2... as addr query options.
func multiHostURL(scheme, rest string) (*url.URL, error) {
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo, hostList := "", authority
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, hostList = authority[:i+1], authority[i+1:]
	}
	hosts := strings.Split(hostList, ",")
	for _, h := range hosts {
		if h == "" {
			return nil, fmt.Errorf("redis url: empty host in %q", hostList)
		}
	}
	u, err := url.Parse(scheme + "://" + userinfo + hosts[0] + tail)
	if err != nil {
		return nil, urlError(err)
	}
	q := u.Query()
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}
	u.RawQuery = q.Encode()
	return u, nil
}

// urlError drops the URL that url.Parse puts in its errors: it may hold a
// password, and errors end up in logs.
func urlError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("redis url: %w", err)
}
