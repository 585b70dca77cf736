package testkit

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP forwarder a test puts between a node and PostgreSQL or
// Redis, to inject outages without touching the real server. Cut
// refuses connections (the server is down); Blackhole accepts them and
// answers nothing (a partition: packets vanish). Restore forwards again.
type Proxy struct {
	t      testing.TB
	Addr   string // where clients connect instead of the target
	target string

	mu    sync.Mutex
	ln    net.Listener
	hole  bool                  // blackhole: hold connections, forward nothing
	conns map[net.Conn]net.Conn // client side → upstream side
	held  []net.Conn
	wg    sync.WaitGroup

	// Losing one COMMIT's answer (PostgreSQL only): when armed, the first
	// connection that sends COMMIT has it forwarded, but nothing comes back
	// on it any more, and it is closed shortly after.
	commitArmed bool
	cutArmed    bool // cut the proxy right after forwarding that COMMIT
	swallowed   map[net.Conn]bool
	commitLost  chan struct{}
}

// StartProxy forwards a new local address to target until the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{t: t, Addr: ln.Addr().String(), target: target, conns: map[net.Conn]net.Conn{}, swallowed: map[net.Conn]bool{}}
	p.serve(ln)
	t.Cleanup(p.Cut)
	return p
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.hole {
				p.held = append(p.held, c)
				p.mu.Unlock()
				continue
			}
			p.mu.Unlock()
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c] = up
			p.mu.Unlock()
			go p.pipe(c, up, c, false)
			go p.pipe(c, c, up, true)
		}
	}()
}

// pgx sends COMMIT as a simple query: 'Q', length, "commit\x00".
var commitMsg = []byte("commit\x00")

// pipe copies one direction; when it ends it closes the pair, except the
// client side of a blackholed connection, which stays open and silent.
func (p *Proxy) pipe(c net.Conn, dst, src net.Conn, fromUpstream bool) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			drop := fromUpstream && p.swallowed[c]
			cut := false
			if !fromUpstream && p.commitArmed && bytes.Contains(buf[:n], commitMsg) {
				p.commitArmed = false
				p.swallowed[c] = true
				if cut = p.cutArmed; !cut {
					close(p.commitLost)
					time.AfterFunc(200*time.Millisecond, func() { c.Close(); dst.Close() })
				}
			}
			p.mu.Unlock()
			if !drop {
				if _, werr := dst.Write(buf[:n]); werr != nil && !cut {
					break
				}
			}
			if cut { // the COMMIT is on its way to PostgreSQL: now the database is gone
				p.Cut()
				close(p.commitLost)
				break
			}
		}
		if err != nil {
			break
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if up, ok := p.conns[c]; ok {
		up.Close()
		if !p.hole {
			c.Close()
			delete(p.conns, c)
		}
	}
}

// Cut closes the listener and every connection: the target is gone.
func (p *Proxy) Cut() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.hole = false
	p.closeAllLocked()
	p.mu.Unlock()
	p.wg.Wait()
}

// Blackhole keeps accepting connections but forwards nothing either way;
// open connections go silent.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	p.hole = true
	for c, up := range p.conns {
		up.Close()
		p.held = append(p.held, c)
	}
	p.conns = map[net.Conn]net.Conn{}
	p.mu.Unlock()
}

func (p *Proxy) closeAllLocked() {
	for c, up := range p.conns {
		c.Close()
		up.Close()
	}
	p.conns = map[net.Conn]net.Conn{}
	for _, c := range p.held {
		c.Close()
	}
	p.held = nil
}

// LoseNextCommitAck arms the proxy: the next COMMIT reaches PostgreSQL
// (so the transaction commits) but its answer never reaches the client,
// whose connection then breaks. The channel closes when that happened.
func (p *Proxy) LoseNextCommitAck() <-chan struct{} {
	return p.armCommit(false)
}

// CutAfterNextCommit arms the proxy: the next COMMIT reaches PostgreSQL (so
// the transaction commits), its answer never reaches the client, and the
// proxy is cut at once (as Cut), so that nobody can ask PostgreSQL what
// happened until Restore. The channel closes when that happened.
func (p *Proxy) CutAfterNextCommit() <-chan struct{} {
	return p.armCommit(true)
}

func (p *Proxy) armCommit(cut bool) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.commitArmed, p.cutArmed = true, cut
	p.commitLost = make(chan struct{})
	return p.commitLost
}

// Restore forwards again: after Cut it listens again on the same address;
// after Blackhole it drops the held connections (their clients reconnect).
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.hole = false
	for _, c := range p.held {
		c.Close()
	}
	p.held = nil
	listening := p.ln != nil
	p.mu.Unlock()
	if listening {
		return
	}
	ln, err := net.Listen("tcp", p.Addr)
	if err != nil {
		p.t.Fatalf("restore proxy: %v", err)
	}
	p.serve(ln)
}
