package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulsestream/pulsestream/internal/config"
)

// selfSigned returns a PEM certificate and key for 127.0.0.1 named cn.
func selfSigned(t *testing.T, cn string) (certPEM, keyPEM []byte, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), cert
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTLSServingAndReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	c1, k1, x1 := selfSigned(t, "pulsestream-1")
	c2, k2, x2 := selfSigned(t, "pulsestream-2")
	writeFile(t, certFile, c1)
	writeFile(t, keyFile, k1)
	a, addr := serveNode(t, func(c *config.Config) { c.TLSCert, c.TLSKey = certFile, keyFile })

	roots := x509.NewCertPool()
	roots.AddCert(x1)
	roots.AddCert(x2)
	get := func() (*http.Response, error) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true, DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + addr + "/health")
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}
	served := func(want string) {
		t.Helper()
		resp, err := get()
		if err != nil {
			t.Fatalf("GET over TLS: %v", err)
		}
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
			t.Errorf("status %d over %s, want 200 over HTTP/2", resp.StatusCode, resp.Proto)
		}
		if cn := resp.TLS.PeerCertificates[0].Subject.CommonName; cn != want {
			t.Errorf("served certificate %q, want %q", cn, want)
		}
		if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
			t.Errorf("Strict-Transport-Security = %q over TLS, want max-age=31536000", got)
		}
		if resp.TLS.Version < tls.VersionTLS12 {
			t.Errorf("TLS version %x below 1.2", resp.TLS.Version)
		}
	}
	served("pulsestream-1")

	// Plain HTTP and TLS 1.1 are refused.
	if resp, err := http.Get("http://" + addr + "/health"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP served on the TLS port")
		}
	}
	old := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS11}}
	if _, err := (&http.Client{Transport: old}).Get("https://" + addr + "/health"); err == nil {
		t.Error("a TLS 1.1 client was served")
	}

	// A new certificate on disk is picked up at the next handshake.
	writeFile(t, keyFile, k2)
	writeFile(t, certFile, c2)
	served("pulsestream-2")

	// A broken file keeps the current certificate; SIGHUP's reload reports it.
	writeFile(t, certFile, []byte("not a certificate"))
	if err := a.ReloadTLS(); err == nil {
		t.Error("ReloadTLS accepted a broken certificate")
	}
	served("pulsestream-2")
	writeFile(t, certFile, c1)
	writeFile(t, keyFile, k1)
	if err := a.ReloadTLS(); err != nil {
		t.Fatalf("ReloadTLS: %v", err)
	}
	served("pulsestream-1")
}
