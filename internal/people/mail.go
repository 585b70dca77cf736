package people

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Mailer sends mail through one SMTP server (--smtp-url), with STARTTLS
// whenever the server offers it, and AUTH PLAIN when the URL has a user
// (net/smtp refuses to send a password unencrypted except to localhost).
type Mailer struct {
	addr     string // host:port
	host     string
	user     string
	pass     string
	from     string
	implicit bool // smtps://: TLS from the first byte
	// Timeout bounds one delivery (dial to QUIT); default 15 s.
	Timeout time.Duration
	// TLSConfig overrides the TLS settings (tests); nil: verify host.
	TLSConfig *tls.Config
}

// ParseSMTPURL reads smtp://[user:pass@]host[:port]?from=addr (port 587
// by default; smtps:// for implicit TLS, port 465). The error never
// repeats the password.
func ParseSMTPURL(raw string) (*Mailer, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("--smtp-url: not a URL")
	}
	m := &Mailer{host: u.Hostname(), from: u.Query().Get("from"), Timeout: 15 * time.Second}
	port := u.Port()
	switch u.Scheme {
	case "smtp":
		if port == "" {
			port = "587"
		}
	case "smtps":
		m.implicit = true
		if port == "" {
			port = "465"
		}
	default:
		return nil, fmt.Errorf("--smtp-url: the scheme must be smtp or smtps")
	}
	if m.host == "" {
		return nil, fmt.Errorf("--smtp-url: a host is required")
	}
	if a, err := mail.ParseAddress(m.from); err != nil || a.Name != "" {
		return nil, fmt.Errorf("--smtp-url: ?from= must be the sender's address, such as from=pulsestream@example.com")
	}
	if u.User != nil {
		m.user = u.User.Username()
		m.pass, _ = u.User.Password()
	}
	m.addr = net.JoinHostPort(m.host, port)
	return m, nil
}

// SendInvitation mails an invitation link.
func (m *Mailer) SendInvitation(ctx context.Context, to, tenantID string, role pulse.Role, link string, until time.Time) error {
	body := fmt.Sprintf("You are invited to join the PulseStream tenant %s as %s.\r\n\r\n"+
		"Open this link to accept (it works once, until %s):\r\n\r\n%s\r\n\r\n"+
		"If you did not expect this invitation, ignore this mail.\r\n",
		tenantID, role, until.UTC().Format("2006-01-02 15:04 MST"), link)
	return m.Send(ctx, to, "Your invitation to PulseStream", body)
}

// Send delivers one plain-text mail to one address.
func (m *Mailer) Send(ctx context.Context, to, subject, body string) error {
	if strings.ContainsAny(to+subject, "\r\n") {
		return fmt.Errorf("smtp: line break in a header")
	}
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tlsConf := m.TLSConfig
	if tlsConf == nil {
		tlsConf = &tls.Config{ServerName: m.host, MinVersion: tls.VersionTLS12}
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return fmt.Errorf("smtp dial %s: %w", m.addr, err)
	}
	if m.implicit {
		conn = tls.Client(conn, tlsConf)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp greeting: %w", err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok && !m.implicit {
		if err := c.StartTLS(tlsConf); err != nil {
			return fmt.Errorf("smtp starttls: %w", err)
		}
	}
	if m.user != "" {
		if err := c.Auth(smtp.PlainAuth("", m.user, m.pass, m.host)); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.Mail(m.from); err != nil {
		return fmt.Errorf("smtp MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("smtp RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	msg := "From: " + m.from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\n" +
		"Date: " + time.Now().UTC().Format(time.RFC1123Z) + "\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body
	if _, err := w.Write([]byte(msg)); err != nil {
		return fmt.Errorf("smtp write: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp end of data: %w", err)
	}
	return c.Quit()
}
