// Command cometbft-switchboard runs a CometBFT v0.38 node whose p2p layer is
// a Switchboard node: its reactors (consensus, mempool, blocksync, evidence,
// statesync) attach to the node's gRPC gateway, and the Switchboard node
// owns every peer connection.
//
//	cometbft-switchboard start --home CMTHOME --switchboard.grpc 127.0.0.1:26670 [--proxy_app kvstore] [cometbft start flags]
//
// The other commands are CometBFT's own (init, testnet, show-node-id, ...).
package main

import (
	"os"
	"path/filepath"

	cmd "github.com/cometbft/cometbft/cmd/cometbft/commands"
	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/libs/cli"
)

func main() {
	root := cmd.RootCmd
	root.Use = "cometbft-switchboard"
	root.Short = "A CometBFT node whose p2p layer is a Switchboard node"
	root.SilenceUsage = true
	root.AddCommand(
		newStartCmd(),
		cmd.InitFilesCmd,
		cmd.TestnetFilesCmd,
		cmd.ShowNodeIDCmd,
		cmd.ShowValidatorCmd,
		cmd.GenNodeKeyCmd,
		cmd.GenValidatorCmd,
		cmd.ResetAllCmd,
		cmd.ResetPrivValidatorCmd,
		cmd.ResetStateCmd,
		cmd.RollbackStateCmd,
		cmd.VersionCmd,
	)
	exec := cli.PrepareBaseCmd(root, "CMT", os.ExpandEnv(filepath.Join("$HOME", cfg.DefaultTendermintDir)))
	// Execute prints "ERROR: <what went wrong>" and exits 1 on failure.
	if err := exec.Execute(); err != nil {
		os.Exit(1)
	}
}
