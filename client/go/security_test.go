package switchboard

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

// selfSigned writes a certificate for 127.0.0.1 and its key; it returns their paths and a pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "switchboard-test-node"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// Options.TLS and Options.Token against a node that requires both
// (grpc.tls_cert_file, grpc.credentials_file). Not a SCENARIOS.md scenario.
func TestSecurityTLSAndToken(t *testing.T) {
	t.Parallel()
	const token = "go-sdk-test-token-0123456789"
	certFile, keyFile, pool := selfSigned(t)
	creds := filepath.Join(t.TempDir(), "credentials.toml")
	if err := os.WriteFile(creds, []byte("[reactors.app]\ntoken = \""+token+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startNode(t, "a", nodeConfig{extra: []string{
		"--grpc.tls_cert_file", certFile, "--grpc.tls_key_file", keyFile, "--grpc.credentials_file", creds,
	}})
	tlsConfig := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}

	wrong := appOptions()
	wrong.TLS, wrong.Token = tlsConfig, "not-the-token-at-all-0000"
	_, err := tryAttach(t, a.grpc, wrong)
	var ae *AttachError
	if !errors.As(err, &ae) || ae.Code != codes.Unauthenticated {
		t.Fatalf("a wrong token: %v, want UNAUTHENTICATED", err)
	}

	ok := appOptions()
	ok.TLS, ok.Token = tlsConfig, token
	c := attachTo(t, a.grpc, ok)
	if c.NodeInfo().ID != a.id {
		t.Fatalf("NodeInfo %+v", c.NodeInfo())
	}
	record(c).waitFor(t, "Start", has[Start](1))
}
