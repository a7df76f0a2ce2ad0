// Package cli holds what the Go examples share: the flags that say how to
// reach the node (--grpc, TLS, token), JSON logging, and signal handling.
package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	switchboard "github.com/switchboard-p2p/switchboard/client/go"
)

// Conn is how to reach the node's reactor gateway.
type Conn struct {
	GRPC          string
	Name          string
	TLSCA         string
	TLSCert       string
	TLSKey        string
	TLSServerName string
	Token         string
}

// Register adds the connection flags to fs, with defaultName for --name.
func Register(fs *flag.FlagSet, defaultName string) *Conn {
	c := &Conn{}
	fs.StringVar(&c.GRPC, "grpc", "127.0.0.1:26670", "the node's reactor gateway, HOST:PORT (or unix:///PATH)")
	fs.StringVar(&c.Name, "name", defaultName, "reactor name (the node's --grpc.reactors lists the names it waits for)")
	fs.StringVar(&c.TLSCA, "tls-ca", "", "CA certificate (PEM) to verify the node with; enables TLS")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "client certificate (PEM) for mutual TLS")
	fs.StringVar(&c.TLSKey, "tls-key", "", "client key (PEM) for mutual TLS")
	fs.StringVar(&c.TLSServerName, "tls-server-name", "", "name to verify in the node's certificate (default: the host of --grpc)")
	fs.StringVar(&c.Token, "token", os.Getenv("SB_TOKEN"), "bearer token for a node with grpc.credentials_file (default $SB_TOKEN)")
	return c
}

// Options returns o with the name, TLS, token and logger filled in.
func (c *Conn) Options(o switchboard.Options, log *slog.Logger) (switchboard.Options, error) {
	o.Name = c.Name
	o.Token = c.Token
	o.Logger = log
	if c.TLSCA == "" && c.TLSCert == "" {
		return o, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLSServerName}
	if c.TLSCA != "" {
		pem, err := os.ReadFile(c.TLSCA)
		if err != nil {
			return o, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return o, fmt.Errorf("--tls-ca %s: no PEM certificate", c.TLSCA)
		}
		cfg.RootCAs = pool
	}
	if c.TLSCert != "" || c.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return o, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	o.TLS = cfg
	return o, nil
}

// Logger writes JSON logs to stderr (stdout carries the example's output).
func Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, nil))
}

// SignalContext ends on SIGINT or SIGTERM.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
