package people

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// smtpReceiver is a minimal SMTP server the test owns: it accepts mail on
// 127.0.0.1 and hands each message's DATA to the test. Its goroutines end
// when the test's cleanup closes the listener.
type smtpReceiver struct {
	ln   net.Listener
	mail chan string
	wg   sync.WaitGroup
}

func startSMTPReceiver(t *testing.T) *smtpReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &smtpReceiver{ln: ln, mail: make(chan string, 10)}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.wg.Add(1)
			go func() { defer r.wg.Done(); r.serve(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); r.wg.Wait() })
	return r
}

func (r *smtpReceiver) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	say := func(s string) { _, _ = c.Write([]byte(s + "\r\n")) }
	say("220 test ESMTP")
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250-test")
			say("250 8BITMIME")
		case strings.HasPrefix(cmd, "MAIL"), strings.HasPrefix(cmd, "RCPT"), strings.HasPrefix(cmd, "RSET"), strings.HasPrefix(cmd, "NOOP"):
			say("250 ok")
		case cmd == "DATA":
			say("354 go on")
			var b strings.Builder
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			r.mail <- b.String()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("502 not implemented")
		}
	}
}

func TestMailerSendsInvitationLink(t *testing.T) {
	t.Parallel()
	r := startSMTPReceiver(t)
	m, err := ParseSMTPURL("smtp://" + r.ln.Addr().String() + "?from=pulsestream@example.com")
	if err != nil {
		t.Fatal(err)
	}
	link := "https://ps.example.com/invite/abc123"
	if err := m.SendInvitation(context.Background(), "ana@example.com", "acme", "admin", link, time.Now().Add(72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-r.mail:
		for _, want := range []string{"To: ana@example.com", "From: pulsestream@example.com", link, "as admin"} {
			if !strings.Contains(msg, want) {
				t.Errorf("mail lacks %q:\n%s", want, msg)
			}
		}
	default:
		t.Fatal("no mail arrived")
	}
}

func TestParseSMTPURL(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"http://h?from=a@b.c", "smtp://?from=a@b.c", "smtp://h", "smtp://h?from=nobody"} {
		if _, err := ParseSMTPURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	m, err := ParseSMTPURL("smtp://u:s3cret@mail.example.com?from=ps@example.com")
	if err != nil || m.addr != "mail.example.com:587" || m.user != "u" || m.pass != "s3cret" {
		t.Fatalf("got %+v, %v", m, err)
	}
	if _, err := ParseSMTPURL("smtp://u:s3cret@mail.example.com"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %v", err)
	}
}
