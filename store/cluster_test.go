package store_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/grantd/grantd/pki"
	"github.com/grantd/grantd/store"
)

// freeAddr is a loopback address with a port nobody holds right now.
func freeAddr(t *testing.T, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startCluster starts n nodes over mutual TLS on loopback addresses.
func startCluster(t *testing.T, n int) []*store.Store {
	return startClusterWith(t, n, store.AutopilotConfig{}, nil)
}

func startClusterWith(t *testing.T, n int, ap store.AutopilotConfig, tweak func(*store.Config)) []*store.Store {
	t.Helper()
	dir := t.TempDir()
	var ids []string
	var peers []store.Peer
	for i := range n {
		id := fmt.Sprintf("node%d", i+1)
		ids = append(ids, id)
		peers = append(peers, store.Peer{ID: id, Address: freeAddr(t, fmt.Sprintf("127.0.0.%d", i+1))})
	}
	if err := pki.IssueNodeCerts(filepath.Join(dir, "certs"), ids, time.Now()); err != nil {
		t.Fatal(err)
	}
	nodes := make([]*store.Store, n)
	for i, id := range ids {
		tc, err := pki.ClusterTLSConfig(pki.ClusterFilesIn(filepath.Join(dir, "certs"), id))
		if err != nil {
			t.Fatal(err)
		}
		cfg := store.DefaultConfig(filepath.Join(dir, id))
		cfg.NodeID = id
		cfg.Cluster = &store.ClusterConfig{Listen: peers[i].Address, TLS: tc, Peers: peers, Autopilot: ap}
		if tweak != nil {
			tweak(&cfg)
		}
		if nodes[i], err = store.Open(cfg); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nodes[i].Close() })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, s := range nodes {
		wg.Go(func() { errs[i] = s.WaitReady(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node%d: %v", i+1, err)
		}
	}
	return nodes
}

func leaderOf(t *testing.T, nodes []*store.Store) (leader *store.Store, followers []*store.Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		leader, followers = nil, nil
		for _, s := range nodes {
			if s.IsLeader() {
				leader = s
			} else {
				followers = append(followers, s)
			}
		}
		if leader != nil {
			return leader, followers
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no leader")
	return nil, nil
}

// Writes sent to a follower reach the leader and come back with the
// leader's answer; the follower has applied them when Apply returns.
func TestClusterForwardsWritesAndSurvivesTheLeader(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx := context.Background()
	leader, followers := leaderOf(t, nodes)
	f := followers[0]
	if _, err := f.Apply(ctx, store.Bootstrap{Admin: store.User{Name: "admin"}, SharedGrantID: "g1", AdminGrantID: "g2"}); err != nil {
		t.Fatalf("bootstrap through a follower: %v", err)
	}
	rev, err := f.Apply(ctx, store.CreateCollection{Collection: store.Collection{Path: "/a"}})
	if err != nil {
		t.Fatalf("write through a follower: %v", err)
	}
	if c, _ := f.Read().Collection("/a"); c == nil || f.Revision() < rev {
		t.Fatalf("the follower does not read its own write (revision %d, wrote %d)", f.Revision(), rev)
	}
	// The leader's typed error and message come back through the follower.
	_, err = followers[1].Apply(ctx, store.CreateCollection{Collection: store.Collection{Path: "/a"}})
	_, direct := leader.Apply(ctx, store.CreateCollection{Collection: store.Collection{Path: "/a"}})
	if !errors.Is(err, store.ErrAlreadyExists) || err.Error() != direct.Error() {
		t.Fatalf("forwarded error %v, leader's own %v", err, direct)
	}

	// The leader goes: the others elect one and keep every acknowledged write.
	if err := leader.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var rev2 uint64
	for {
		rev2, err = f.Apply(ctx, store.CreateCollection{Collection: store.Collection{Path: "/b"}})
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrNotReady) || time.Since(start) > 5*time.Second {
			t.Fatalf("no write %v after the leader went: %v", time.Since(start), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("writes resumed %v after the leader closed", time.Since(start).Round(time.Millisecond))
	for _, s := range followers {
		if err := s.WaitForRevision(ctx, rev2); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/a", "/b"} {
			if c, _ := s.Read().Collection(p); c == nil {
				t.Errorf("%s missing on %s", p, s.NodeID())
			}
		}
	}
	members, err := f.Members()
	if err != nil || len(members) != 3 {
		t.Fatalf("members: %v %v", members, err)
	}
}

// A node without a certificate of the cluster's CA is not let in.
func TestClusterRefusesStrangers(t *testing.T) {
	nodes := startCluster(t, 3)
	leader, _ := leaderOf(t, nodes)
	var addr string
	members, _ := leader.Members()
	for _, m := range members {
		if m.Leader {
			addr = m.Address
		}
	}
	dir := t.TempDir()
	if err := pki.IssueNodeCerts(dir, []string{"stranger"}, time.Now()); err != nil { // another CA
		t.Fatal(err)
	}
	tc, err := pki.ClusterTLSConfig(pki.ClusterFilesIn(dir, "stranger"))
	if err != nil {
		t.Fatal(err)
	}
	tc.ServerName = store.ClusterServerName
	tc.InsecureSkipVerify = true //nolint:gosec // the stranger would trust anyone; the cluster must still refuse it
	conn, err := tlsDial(addr, tc)
	if err == nil {
		// TLS 1.3 reports a refused client certificate on the first read.
		_, _ = conn.Write([]byte{'F', 'A', 0, 0, 0, 0})
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		_ = conn.Close()
	}
	if err == nil {
		t.Fatal("a node certificate of another CA was accepted")
	}
}

func tlsDial(addr string, tc *tls.Config) (*tls.Conn, error) {
	return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, tc)
}

// Autopilot on the leader removes a member unreachable longer than
// DeadAfter, down to MinQuorum voters and no further.
func TestAutopilotRemovesDeadMembers(t *testing.T) {
	nodes := startClusterWith(t, 4, store.AutopilotConfig{DeadAfter: 2 * time.Second, MinQuorum: 3}, nil)
	leader, followers := leaderOf(t, nodes)
	dead := followers[0]
	if err := dead.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		members, err := leader.Members()
		if err != nil {
			t.Fatal(err)
		}
		gone := !slices.ContainsFunc(members, func(m store.Member) bool { return m.ID == dead.NodeID() })
		if gone && len(members) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is still a member 15 s after it stopped: %+v", dead.NodeID(), members)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Autopilot's view catches up within its update interval (1 s).
	var h store.ClusterHealth
	var ok bool
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if h, ok = leader.Health(); ok && h.Healthy && len(h.Members) == 3 {
			break
		}
	}
	if !ok || !h.Healthy || h.FailureTolerance != 1 {
		t.Errorf("health after the clean-up: %+v %v", h, ok)
	}
	// A second death would leave two voters, under MinQuorum: it stays.
	if err := followers[1].Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	if members, _ := leader.Members(); len(members) != 3 {
		t.Errorf("clean-up went below MinQuorum: %+v", members)
	}
}

// A write a follower forwards and the leader refuses comes back only once
// the follower holds what the refusal was decided on: two followers
// creating the same object at once, the loser reads the winner's.
func TestClusterRefusalReadsWhatTheLeaderSaw(t *testing.T) {
	// A slow state machine (5 ms after every apply) keeps raft's own
	// applied index ahead of the revision. (This test did not fail on
	// the code it guards, which waited for raft's applied index: the gap
	// is too narrow in one process. The cluster e2e tests caught that
	// code under load, when a node read its own store after losing the
	// race to create the client CA.)
	nodes := startClusterWith(t, 3, store.AutopilotConfig{}, func(c *store.Config) {
		c.Observe = func(*store.ReadTxn, []store.Change) { time.Sleep(5 * time.Millisecond) }
	})
	_, followers := leaderOf(t, nodes)
	ctx := context.Background()
	if _, err := followers[0].Apply(ctx, store.Bootstrap{Admin: store.User{Name: "admin"}, SharedGrantID: "g1", AdminGrantID: "g2"}); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		path := fmt.Sprintf("/race%d", i)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for j, f := range followers {
			wg.Go(func() { _, errs[j] = f.Apply(ctx, store.CreateCollection{Collection: store.Collection{Path: path}}) })
		}
		wg.Wait()
		for j, f := range followers {
			if errors.Is(errs[j], store.ErrAlreadyExists) {
				if c, _ := f.Read().Collection(path); c == nil {
					t.Fatalf("%s was refused %s as existing, and then does not find it", f.NodeID(), path)
				}
			} else if errs[j] != nil {
				t.Fatal(errs[j])
			}
		}
	}
}

// A transfer of leadership asked of a follower succeeds when leadership
// moves, whichever arrives first at the follower: the old leader's answer
// or word of the new leader (which writes under way make likely).
func TestTransferAskedOfAFollower(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx := context.Background()
	if _, err := nodes[0].Apply(ctx, store.Bootstrap{Admin: store.User{Name: "admin"}, SharedGrantID: "g1", AdminGrantID: "g2"}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var writers sync.WaitGroup
	defer writers.Wait()
	defer close(stop)
	for w := range 8 {
		writers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// Some fail while leadership moves; the test is of the transfer.
				_, _ = nodes[w%3].Apply(ctx, store.CreateCollection{Collection: store.Collection{Path: fmt.Sprintf("/w%d-%d", w, i)}})
			}
		})
	}
	for round := range 6 {
		leader, followers := leaderOf(t, nodes)
		change := store.MembershipChange{Action: "transfer"}
		if round%2 == 1 { // every other round names the follower that is not asked
			change.ID = followers[1].NodeID()
		}
		if err := followers[0].ChangeMembership(ctx, change); err != nil {
			t.Fatalf("round %d: transfer from %s asked of %s: %v", round, leader.NodeID(), followers[0].NodeID(), err)
		}
		now := followers[0].Leader()
		if now == leader.NodeID() || now == "" || (change.ID != "" && now != change.ID) {
			t.Fatalf("round %d: %q leads after a transfer from %s to %q", round, now, leader.NodeID(), change.ID)
		}
		// Wait until every node has left the old leader behind.
		deadline := time.Now().Add(10 * time.Second)
		for slices.ContainsFunc(nodes, func(s *store.Store) bool { return s.Leader() != now }) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the nodes do not agree that %s leads", round, now)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// A node whose raft cannot start (here: a bootstrap configuration raft
// refuses, two peers of one ID) gives its cluster port back and leaves
// nothing running (the package's goleak check).
func TestClusterNodeThatFailsToStartClosesItsPort(t *testing.T) {
	dir := t.TempDir()
	if err := pki.IssueNodeCerts(filepath.Join(dir, "certs"), []string{"node1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	tc, err := pki.ClusterTLSConfig(pki.ClusterFilesIn(filepath.Join(dir, "certs"), "node1"))
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t, "127.0.0.1")
	cfg := store.DefaultConfig(filepath.Join(dir, "node1"))
	cfg.NodeID = "node1"
	cfg.Cluster = &store.ClusterConfig{Listen: addr, TLS: tc,
		Peers: []store.Peer{{ID: "node1", Address: addr}, {ID: "node1", Address: freeAddr(t, "127.0.0.2")}}}
	if s, err := store.Open(cfg); err == nil {
		_ = s.Close()
		t.Fatal("a node with two peers of one ID started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the cluster port is still held: %v", err)
	}
	_ = ln.Close()
}
