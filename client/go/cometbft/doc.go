// Package cometbft hosts CometBFT's own reactors (consensus, mempool,
// blocksync, evidence, statesync, or any p2p.Reactor) on a Switchboard node,
// unmodified, through the Switchboard Go SDK.
//
// A CometBFT node is built as usual (node.NewNode); New then takes over its
// Switch's reactors before the node starts, and Attach, once the node has
// started, attaches each of them to the Switchboard node as a remote reactor
// under its CometBFT name (CONSENSUS, MEMPOOL, ...). From then on the
// Switchboard node is the hosted node's network:
//
//   - each peer connection of the Switchboard node becomes one hosted p2p.Peer,
//     shared by every hosted reactor as CometBFT shares one Peer between its
//     reactors (its Get/Set store holds Go values, locally);
//   - the gateway's events become the reactors' calls (InitPeer, AddPeer,
//     Receive, RemovePeer), per reactor in the stream's order, so each reactor
//     sees a word of the reactor grammar per connection; a Receive is decoded
//     as CometBFT's peer decodes it (FilterMsgBytes, the channel's message
//     type, Unwrap);
//   - the hosted peers' Send and TrySend are gateway commands on the stream of
//     the reactor that owns the channel, and the Switch methods the reactors
//     use land on the Switchboard node: StopPeerForError and
//     StopPeerGracefully stop the connection there (the hosted Switch calls
//     every reactor's RemovePeer locally, once), MarkPeerAsGood reaches its
//     address book, Broadcast walks the hosted peer set;
//   - the hosted Switch itself never dials and accepts nobody: the
//     Switchboard node owns the connections, and redials persistent peers.
//
// See README.md for the mapping of every Switch and Peer method, what differs
// from an in-process node, and the limits.
package cometbft
