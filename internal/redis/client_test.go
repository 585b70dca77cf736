package redis

import (
	"slices"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url     string
		check   func(t *testing.T, o clientOptions)
		wantErr string
	}{
		{url: "redis://127.0.0.1:6379/15", check: func(t *testing.T, o clientOptions) {
			if o.single == nil || o.single.Addr != "127.0.0.1:6379" || o.single.DB != 15 || !o.single.ContextTimeoutEnabled {
				t.Errorf("got %+v", o.single)
			}
		}},
		{url: "rediss://u:p@cache.example:6380?pool_size=7", check: func(t *testing.T, o clientOptions) {
			if o.single == nil || o.single.TLSConfig == nil || o.single.Username != "u" || o.single.Password != "p" || o.single.PoolSize != 7 {
				t.Errorf("got %+v", o.single)
			}
		}},
		{url: "redis+cluster://h1:6379,h2:6380,h3:6381?read_only=true", check: func(t *testing.T, o clientOptions) {
			c := o.cluster
			if c == nil || !slices.Equal(c.Addrs, []string{"h1:6379", "h2:6380", "h3:6381"}) || !c.ReadOnly || !c.ContextTimeoutEnabled || c.TLSConfig != nil {
				t.Errorf("got %+v", c)
			}
		}},
		{url: "rediss+cluster://u:p@h1:6379", check: func(t *testing.T, o clientOptions) {
			c := o.cluster
			if c == nil || !slices.Equal(c.Addrs, []string{"h1:6379"}) || c.TLSConfig == nil || c.Username != "u" || c.Password != "p" {
				t.Errorf("got %+v", c)
			}
		}},
		{url: "redis+sentinel://s1:26379,s2:26379/mymaster/2?password=m", check: func(t *testing.T, o clientOptions) {
			f := o.failover
			if f == nil || f.MasterName != "mymaster" || f.DB != 2 || f.Password != "m" || !f.ContextTimeoutEnabled ||
				!slices.Equal(f.SentinelAddrs, []string{"s1:26379", "s2:26379"}) {
				t.Errorf("got %+v", f)
			}
		}},
		{url: "redis+sentinel://s1:26379/mymaster", check: func(t *testing.T, o clientOptions) {
			if f := o.failover; f == nil || f.MasterName != "mymaster" || f.DB != 0 {
				t.Errorf("got %+v", f)
			}
		}},
		{url: "127.0.0.1:6379", wantErr: "missing scheme"},
		{url: "http://h:6379", wantErr: "unknown scheme"},
		{url: "redis+sentinel://s1:26379", wantErr: "master name"},
		{url: "redis+sentinel://s1:26379/", wantErr: "master name"},
		{url: "redis+cluster://h1:6379,,h2:6379", wantErr: "empty host"},
		{url: "redis+cluster://h1:6379/3", wantErr: "database"},
		{url: "redis://u:secret@h1:6379/x", wantErr: "database"},
		{url: "redis+cluster://u:secret@h1:6379?nope=1", wantErr: "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			o, err := parseURL(tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("error leaks the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
		})
	}
}

func TestNewClientKinds(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"redis://127.0.0.1:1/0", "redis+cluster://127.0.0.1:1,127.0.0.1:2", "redis+sentinel://127.0.0.1:1/m"} {
		c, err := NewClient(url)
		if err != nil {
			t.Fatalf("NewClient(%q): %v", url, err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("Close %q: %v", url, err)
		}
	}
}
