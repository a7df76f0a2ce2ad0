package switchboardtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	switchboard "github.com/switchboard-p2p/switchboard/client/go"
	"github.com/switchboard-p2p/switchboard/client/go/switchboardtest"
)

func next(t *testing.T, c *switchboard.Client) switchboard.Event {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		if !ok {
			t.Fatalf("Events closed: %v", c.Err())
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
		return nil
	}
}

func TestNodeServesCommandsAndHonoursCredit(t *testing.T) {
	node := switchboardtest.NewNode("node-a", "testnet")
	defer node.Close()
	ctx := context.Background()
	c, err := switchboard.Attach(ctx, switchboardtest.Target, node.Options(switchboard.Options{
		Name:         "app",
		Channels:     []switchboard.ChannelDescriptor{{ID: 0x70, Priority: 1}},
		CreditWindow: switchboard.Credit{Messages: 2},
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	node.Start()
	p1 := node.Connect("peer-1")
	p2 := node.Connect("peer-2")
	for i := 0; i < 20; i++ {
		node.Deliver(p1, 0x70, []byte{byte(i)})
	}
	got := 0
	for got < 20 {
		if r, ok := next(t, c).(switchboard.Receive); ok {
			if r.Message[0] != byte(got) {
				t.Fatalf("message %d out of order", r.Message[0])
			}
			got++
		}
	}
	peers, err := c.ListPeers(ctx)
	if err != nil || len(peers) != 2 || peers[0].Peer != p1 || peers[1].Peer != p2 {
		t.Fatalf("ListPeers = %+v, %v", peers, err)
	}
	if err := c.SetPeerData(ctx, p2, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.GetPeerData(ctx, p2, "k"); string(v) != "v" || !ok || err != nil {
		t.Fatalf("GetPeerData = %q %v %v", v, ok, err)
	}
	res, err := c.Broadcast(ctx, 0x70, []byte("all"))
	if err != nil || len(res) != 2 {
		t.Fatalf("Broadcast = %+v, %v", res, err)
	}
	for i := 0; i < 2; i++ {
		if m := <-node.Sent(); m.Via != "broadcast" || string(m.Bytes) != "all" {
			t.Fatalf("sent %+v", m)
		}
	}
	if err := c.StopPeerForError(ctx, p1, "bad"); err != nil {
		t.Fatal(err)
	}
	for {
		if rm, ok := next(t, c).(switchboard.RemovePeer); ok {
			if rm.Peer != p1 || rm.Reason != "bad" {
				t.Fatalf("RemovePeer = %+v", rm)
			}
			break
		}
	}
	_, err = c.TrySend(ctx, p1, 0x70, nil)
	var ce *switchboard.CommandError
	if !errors.As(err, &ce) || ce.Reason != switchboard.ReasonPeerRemoved {
		t.Fatalf("TrySend to a removed connection: %v", err)
	}
	if _, err := c.TrySend(ctx, p2, 0x71, nil); !errors.As(err, &ce) || ce.Reason != switchboard.ReasonChannelNotRegistered {
		t.Fatalf("TrySend on an unregistered channel: %v", err)
	}
	node.Stop()
	for range c.Events() {
	}
	if c.Err() != nil {
		t.Fatal(c.Err())
	}
}
