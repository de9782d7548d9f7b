package store

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// A node's cluster port serves before its raft starts (raft's transport
// needs the port), and a restarted node's peers call it at once: a
// request taken then waits for raft rather than reaching a store that has
// none, and a node that fails to start closes the connection.
func TestForwardedRequestWaitsForRaft(t *testing.T) {
	running := newStore(t)
	early := &Store{cfg: running.cfg, closed: make(chan struct{}), started: make(chan struct{})}
	client, server := net.Pipe()
	served := make(chan struct{})
	go func() { early.serveForwarded(server); close(served) }()
	wrote := make(chan error, 1)
	go func() { _, err := client.Write([]byte{opStats, 0, 0, 0, 0}); wrote <- err }()
	_ = client.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if a, err := readAnswer(client); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("answered before raft started: %+v, %v", a, err)
	}
	early.raft = running.raft // as startRaft sets it, before Open closes started
	close(early.started)
	_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
	a, err := readAnswer(client)
	if err != nil || a.err != nil {
		t.Fatalf("once raft runs: %+v, %v", a, err)
	}
	var st nodeStats
	if err := json.Unmarshal([]byte(a.msg), &st); err != nil || st.LastIndex == 0 {
		t.Fatalf("statistics %q: %+v, %v", a.msg, st, err)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	_ = client.Close()
	<-served

	never := &Store{closed: make(chan struct{}), started: make(chan struct{})}
	client, server = net.Pipe()
	served = make(chan struct{})
	go func() { never.serveForwarded(server); close(served) }()
	close(never.closed)
	<-served
	_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := client.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("a node that never started left the connection open: %v", err)
	}
}
