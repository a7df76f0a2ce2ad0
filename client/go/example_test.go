package switchboard_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	switchboard "github.com/switchboard-p2p/switchboard/client/go"
	"github.com/switchboard-p2p/switchboard/client/go/switchboardtest"
)

// An echo reactor in the channel style: it takes events from Events and
// answers each message on channel 0x70 with the same bytes. The node here
// is switchboardtest's in-memory node; against a real node, pass its
// gateway address ("127.0.0.1:26670") and no DialOptions.
func ExampleAttach() {
	node := switchboardtest.NewNode("node-a", "testnet")
	defer node.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := switchboard.Attach(ctx, switchboardtest.Target, node.Options(switchboard.Options{
		Name:     "echo",
		Channels: []switchboard.ChannelDescriptor{{ID: 0x70, Priority: 5, SendQueueCapacity: 100}},
	}))
	if err != nil {
		fmt.Println("attach:", err)
		return
	}
	defer c.Close()
	fmt.Println("attached to", c.NodeInfo().ID)

	// The test plays the node: it starts, a peer connects and says hello, then it stops.
	node.Start()
	peer := node.Connect("peer-1")
	node.Deliver(peer, 0x70, []byte("hello"))
	go func() {
		fmt.Printf("echoed %q to %s\n", (<-node.Sent()).Bytes, peer.ID)
		node.Stop()
	}()

	for ev := range c.Events() {
		switch e := ev.(type) {
		case switchboard.Start:
			fmt.Println("started")
		case switchboard.AddPeer:
			fmt.Println("peer added:", e.Peer.ID)
		case switchboard.Receive:
			if _, err := c.Send(ctx, e.Peer, e.ChannelID, e.Message); err != nil {
				fmt.Println("send:", err)
			}
		case switchboard.RemovePeer:
			fmt.Println("peer removed:", e.Peer.ID)
		case switchboard.Stop:
			fmt.Println("stopped")
		}
	}
	fmt.Println("done, err =", c.Err())
	// Output:
	// attached to node-a
	// started
	// peer added: peer-1
	// echoed "hello" to peer-1
	// peer removed: peer-1
	// stopped
	// done, err = <nil>
}

// greeter is a reactor in the callback style, shaped like CometBFT's
// p2p.Reactor: embed BaseReactor and override what you need.
type greeter struct {
	switchboard.BaseReactor
}

func (g *greeter) GetChannels() []switchboard.ChannelDescriptor {
	return []switchboard.ChannelDescriptor{{ID: 0x71, Priority: 1}}
}

func (g *greeter) AddPeer(p switchboard.Peer) {
	// Commands may be called from the callbacks.
	if _, err := g.Client.Send(context.Background(), p, 0x71, []byte("hi "+p.ID)); err != nil {
		fmt.Println("send:", err)
	}
}

func (g *greeter) RemovePeer(p switchboard.Peer, reason error) {
	fmt.Printf("removed %s (reason: %v)\n", p.ID, reason)
}

func (g *greeter) OnStop() { fmt.Println("OnStop") }

func ExampleRun() {
	node := switchboardtest.NewNode("node-a", "testnet")
	defer node.Close()
	node.Start()
	node.Connect("peer-1")
	go func() {
		m := <-node.Sent()
		fmt.Printf("peer-1 got %q on channel %#x\n", m.Bytes, m.ChannelID)
		node.Stop()
	}()

	err := switchboard.Run(context.Background(), switchboardtest.Target, &greeter{}, node.Options(switchboard.Options{Name: "greeter"}))
	fmt.Println("Run returned", err)
	// Output:
	// peer-1 got "hi peer-1" on channel 0x71
	// removed peer-1 (reason: <nil>)
	// OnStop
	// Run returned <nil>
}

// A command the node refuses returns a *CommandError with a gRPC code and a
// reason; the stream carries on.
func ExampleCommandError() {
	node := switchboardtest.NewNode("node-a", "testnet")
	defer node.Close()
	ctx := context.Background()
	c, err := switchboard.Attach(ctx, switchboardtest.Target, node.Options(switchboard.Options{
		Name:     "app",
		Channels: []switchboard.ChannelDescriptor{{ID: 0x70, Priority: 5}},
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	_, err = c.Send(ctx, switchboard.Peer{ID: "nobody"}, 0x70, []byte("x"))
	var ce *switchboard.CommandError
	if errors.As(err, &ce) {
		fmt.Println(ce.Code, ce.Reason)
	}
	n, err := c.NumPeers(ctx)
	fmt.Println(n.Outbound, err)
	// Output:
	// NotFound ERROR_REASON_UNKNOWN_PEER
	// 0 <nil>
}
