package httpapi

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
)

// CertReloader serves a TLS certificate from PEM files and picks up a new
// one without a restart: on Reload (SIGHUP) and whenever either file's
// modification time or size changes, checked at each handshake (two stat
// calls). A file that fails to load (e.g. half-written) keeps the previous
// certificate in use and is tried again at the next handshake; open
// connections are never dropped.
type CertReloader struct {
	certFile, keyFile string
	logger            *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	version string // the files' mtimes and sizes when cert was loaded
}

// NewCertReloader loads the certificate once and fails if it cannot.
func NewCertReloader(certFile, keyFile string, logger *slog.Logger) (*CertReloader, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &CertReloader{certFile: certFile, keyFile: keyFile, logger: logger}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *CertReloader) fileVersion() (string, error) {
	var v string
	for _, f := range []string{c.certFile, c.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		v += fmt.Sprintf("%d/%d;", st.ModTime().UnixNano(), st.Size())
	}
	return v, nil
}

// Reload reads both files now. On error the previous certificate stays.
func (c *CertReloader) Reload() error {
	version, err := c.fileVersion()
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: load %s and %s: %w", c.certFile, c.keyFile, err)
	}
	c.mu.Lock()
	c.cert, c.version = &cert, version
	c.mu.Unlock()
	return nil
}

// GetCertificate is tls.Config.GetCertificate.
func (c *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if version, err := c.fileVersion(); err == nil {
		c.mu.Lock()
		changed := version != c.version
		c.mu.Unlock()
		if changed {
			if err := c.Reload(); err != nil {
				c.logger.Warn("TLS certificate changed on disk but does not load; still serving the previous one", "err", err)
			} else {
				c.logger.Info("TLS certificate reloaded", "cert", c.certFile)
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cert, nil
}

// TLSConfig is the server's TLS configuration: TLS 1.2 or later, the
// certificate from c. http.Server.ServeTLS adds HTTP/2 (h2) to it.
func (c *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate}
}
