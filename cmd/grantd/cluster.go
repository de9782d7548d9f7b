package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/grantd/grantd/pki"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"
)

// runCluster is `grantd cluster certs`: the cluster CA and the nodes'
// certificates, made once by the operator and copied to each node.
func runCluster(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "certs" {
		fmt.Fprintln(stderr, "Usage: grantd cluster certs --dir DIR NODE-ID...")
		return errors.New("unknown or missing cluster subcommand (known: certs)")
	}
	fs := flag.NewFlagSet("grantd cluster certs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "./cluster-certs", "where the cluster CA and the node certificates go (the CA is reused when there)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("name the node IDs: grantd cluster certs --dir DIR node1 node2 node3")
	}
	for _, id := range fs.Args() {
		if err := subjects.ValidOrgName(id); err != nil {
			return fmt.Errorf("node ID %q: %w", id, err)
		}
	}
	if err := pki.IssueNodeCerts(*dir, fs.Args(), time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "cluster CA and certificates for %v in %s; copy cluster-ca.pem, <id>.pem and <id>-key.pem to each node's --cluster-certs-dir; keep cluster-ca-key.pem offline\n", fs.Args(), *dir)
	return nil
}

// runRecover is `grantd recover`: the lost-quorum procedure on a stopped
// node's data directory.
func runRecover(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("grantd recover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "./grantd-data", "data directory of the stopped node")
	nodeID := fs.String("node-id", "", "this node's ID")
	peers := fs.String("cluster-peers", "", "the members from now on, this node among them: id=host:port,...")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: grantd recover --data-dir DIR --node-id ID --cluster-peers id=host:port,...\n\n"+
			"For a cluster that lost its quorum for good: rewrites the stopped node's membership to --cluster-peers.\n"+
			"Run it on each surviving node with the same peers, then start them.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	list, err := config{ClusterPeers: *peers}.peers()
	if err != nil {
		return err
	}
	if *nodeID == "" {
		return errors.New("--node-id is required")
	}
	if err := store.Recover(filepath.Join(*dataDir, "raft"), *nodeID, list); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "node %s now belongs to a cluster of %d: start it (and the others) with --cluster-listen as before\n", *nodeID, len(list))
	return nil
}
