package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	cmd "github.com/cometbft/cometbft/cmd/cometbft/commands"
	cfg "github.com/cometbft/cometbft/config"
	cmtflags "github.com/cometbft/cometbft/libs/cli/flags"
	"github.com/cometbft/cometbft/libs/log"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"

	switchboard "github.com/switchboard-p2p/switchboard/client/go"
	host "github.com/switchboard-p2p/switchboard/client/go/cometbft"
)

// The flags of our own, beside `cometbft start`'s. Each is also read from
// the environment as CMT_SWITCHBOARD_<NAME> (CometBFT's CMT_ prefix).
const (
	flagGRPC           = "switchboard.grpc"
	flagToken          = "switchboard.token"
	flagTLSCA          = "switchboard.tls_ca_file"
	flagTLSCert        = "switchboard.tls_cert_file"
	flagTLSKey         = "switchboard.tls_key_file"
	flagTLSServerName  = "switchboard.tls_server_name"
	flagConnectTimeout = "switchboard.connect_timeout"
	flagTrace          = "switchboard.trace"
	// defaultGRPC is the Switchboard node's default gateway address
	// (server/src/config/defaults.ts DEFAULT_GRPC_LADDR).
	defaultGRPC = "127.0.0.1:26670"
	// hostedP2PListen is where the hosted Switch listens: loopback, a port
	// of the system's choice. CometBFT's node must listen somewhere; with
	// no inbound slot nobody can join it there.
	hostedP2PListen = "tcp://127.0.0.1:0"
)

func newStartCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "start",
		Aliases: []string{"node", "run"},
		Short:   "Run the CometBFT node with its reactors attached to a Switchboard node",
		Long: `Run a CometBFT node from an ordinary CometBFT home whose reactors (CONSENSUS,
MEMPOOL, BLOCKSYNC, EVIDENCE, STATESYNC) attach to the Switchboard node at
--switchboard.grpc. Start the Switchboard node first, on the same chain ID
(--node.network), with the home's node key, and waiting for these reactors:

  switchboard start --home SBHOME --node.network CHAIN_ID \
      --grpc.reactors CONSENSUS,MEMPOOL,BLOCKSYNC,EVIDENCE,STATESYNC

This node's own p2p settings (laddr, persistent_peers, seeds, pex) are not
used: it listens on loopback only, dials nobody and accepts nobody; the
Switchboard node owns the connections.`,
		Args: cobra.NoArgs,
		RunE: runStart,
	}
	cmd.AddNodeFlags(c)
	f := c.Flags()
	f.String(flagGRPC, defaultGRPC, "the Switchboard node's gateway: HOST:PORT or unix:///PATH")
	f.String(flagToken, "", "bearer token for a Switchboard node with a grpc.credentials_file")
	f.String(flagTLSCA, "", "PEM CA certificate to verify the gateway's TLS certificate (enables TLS)")
	f.String(flagTLSCert, "", "PEM client certificate for mutual TLS (with --switchboard.tls_key_file)")
	f.String(flagTLSKey, "", "PEM private key of --switchboard.tls_cert_file")
	f.String(flagTLSServerName, "", "server name to verify in the gateway's certificate (default: the host of --switchboard.grpc)")
	f.Duration(flagConnectTimeout, host.DefaultConnectTimeout, "how long to wait for an unreachable gateway at start")
	f.String(flagTrace, "", "write every call made on a hosted reactor to this file, one JSON line each (for checking the reactor grammar)")
	return c
}

func runStart(c *cobra.Command, _ []string) error {
	conf, err := cmd.ParseConfig(c)
	if err != nil {
		return err
	}
	logger, err := newLogger(conf)
	if err != nil {
		return err
	}
	tlsConf, err := tlsConfig()
	if err != nil {
		return err
	}
	useHostedP2P(conf)

	var tracer *host.Tracer
	if path := viper.GetString(flagTrace); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("--%s: %w", flagTrace, err)
		}
		defer f.Close()
		tracer = host.NewTracer(f)
		defer tracer.Close()
	}

	nodeKey, err := p2p.LoadOrGenNodeKey(conf.NodeKeyFile())
	if err != nil {
		return fmt.Errorf("failed to load or gen node key %s: %w", conf.NodeKeyFile(), err)
	}
	n, err := nm.NewNode(conf,
		privval.LoadOrGenFilePV(conf.PrivValidatorKeyFile(), conf.PrivValidatorStateFile()),
		nodeKey,
		proxy.DefaultClientCreator(conf.ProxyApp, conf.ABCI, conf.DBDir()),
		nm.DefaultGenesisDocProviderFunc(conf),
		cfg.DefaultDBProvider,
		nm.DefaultMetricsProvider(conf.Instrumentation),
		logger,
	)
	if err != nil {
		return fmt.Errorf("failed to create node: %w", err)
	}

	sdkLogger := newSlogLogger(logger.With("module", "switchboard"))
	h, err := host.New(n.Switch(), host.Options{
		Target:         viper.GetString(flagGRPC),
		Network:        n.GenesisDoc().ChainID,
		ConnectTimeout: viper.GetDuration(flagConnectTimeout),
		SDK:            switchboard.Options{TLS: tlsConf, Token: viper.GetString(flagToken), Logger: sdkLogger},
		Trace:          tracer,
		Logger:         logger,
	})
	if err != nil {
		return err
	}

	if err := n.Start(); err != nil {
		return fmt.Errorf("failed to start node: %w", err)
	}
	stopNode := func() {
		h.Close()
		if n.IsRunning() {
			if err := n.Stop(); err != nil {
				logger.Error("unable to stop the node", "error", err)
			}
		}
		n.Wait()
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	if err := h.Attach(ctx); err != nil {
		stopNode()
		return err
	}
	logger.Info("Started node", "nodeInfo", n.Switch().NodeInfo(), "switchboard", viper.GetString(flagGRPC))

	select {
	case <-ctx.Done():
		logger.Info("Stopping on signal")
		stopNode()
		return nil
	case <-h.Done():
		stopNode()
		return h.Err()
	}
}

// useHostedP2P makes the hosted Switch a Switch of no network of its own.
func useHostedP2P(conf *cfg.Config) {
	p := conf.P2P
	p.ListenAddress = hostedP2PListen
	p.ExternalAddress = ""
	p.Seeds = ""
	p.PersistentPeers = ""
	p.PexReactor = false
	p.SeedMode = false
	p.MaxNumInboundPeers = 0
	p.MaxNumOutboundPeers = 0
}

func newLogger(conf *cfg.Config) (log.Logger, error) {
	logger := log.NewTMLogger(log.NewSyncWriter(os.Stdout))
	if conf.LogFormat == cfg.LogFormatJSON {
		logger = log.NewTMJSONLogger(log.NewSyncWriter(os.Stdout))
	}
	logger, err := cmtflags.ParseLogLevel(conf.LogLevel, logger, cfg.DefaultLogLevel)
	if err != nil {
		return nil, err
	}
	return logger.With("module", "main"), nil
}

// tlsConfig builds the gateway's TLS settings from the flags; nil without a CA.
func tlsConfig() (*tls.Config, error) {
	ca, cert, key := viper.GetString(flagTLSCA), viper.GetString(flagTLSCert), viper.GetString(flagTLSKey)
	if ca == "" {
		if cert != "" || key != "" {
			return nil, fmt.Errorf("--%s and --%s need TLS: set --%s too", flagTLSCert, flagTLSKey, flagTLSCA)
		}
		return nil, nil
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flagTLSCA, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--%s %s: no PEM certificate in the file", flagTLSCA, ca)
	}
	t := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, ServerName: viper.GetString(flagTLSServerName)}
	if t.ServerName == "" {
		target := strings.TrimPrefix(viper.GetString(flagGRPC), "tcp://")
		if i := strings.LastIndex(target, ":"); i > 0 {
			t.ServerName = strings.Trim(target[:i], "[]")
		}
	}
	if (cert == "") != (key == "") {
		return nil, fmt.Errorf("--%s and --%s go together: set both or neither", flagTLSCert, flagTLSKey)
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("--%s/--%s: %w", flagTLSCert, flagTLSKey, err)
		}
		t.Certificates = []tls.Certificate{pair}
	}
	return t, nil
}
