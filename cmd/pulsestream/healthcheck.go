package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/pulsestream/pulsestream/internal/config"
)

// healthcheckSetup: the command asks the server on this host for GET /health and succeeds
// only on a 200: the container HEALTHCHECK of an image that has no shell
// and no curl (FROM scratch). It reads --addr and --tls-cert (or
// PULSESTREAM_ADDR, PULSESTREAM_TLS_CERT) as serve does, so the same
// environment points both at the same port.
func healthcheckSetup(fs *flag.FlagSet) runFunc {
	cfg := config.Default()
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "the server's listen address, as given to serve (an unspecified host means this host)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", cfg.TLSCert, "set when the server serves HTTPS (the check then uses https without verifying the certificate: it talks to its own host)")
	timeout := fs.Duration("timeout", 3*time.Second, "longest wait for the answer")
	return func(e *env, _ config.Config, pos []string) error {
		if err := wantArgs("healthcheck", pos, 0); err != nil {
			return err
		}
		return healthcheck(e.ctx, cfg, *timeout, e.stdout)
	}
}

func healthcheck(ctx context.Context, cfg config.Config, timeout time.Duration, stdout io.Writer) error {
	url, err := healthURL(cfg.Addr, cfg.TLSCert != "")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{
		// A probe of this host's own server: the certificate names the
		// public host, not 127.0.0.1, and /health carries nothing secret.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck %s: %s %s", url, resp.Status, body)
	}
	fmt.Fprintf(stdout, "%s: %s\n", url, body)
	return nil
}

// healthURL is the /health URL of a server listening on addr: an empty or
// unspecified host (":8000", "0.0.0.0:8000", "[::]:8000") is reached on
// loopback.
func healthURL(addr string, https bool) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--addr %q: %w", addr, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	scheme := "http"
	if https {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/health", nil
}
