package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

func newClusterCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "The raft cluster of grantd nodes: members, leader, changes"}
	printStatus := func(w io.Writer, s *v1.ClusterStatus) error {
		if !s.GetClustered() {
			fmt.Fprintf(w, "node %s runs alone (no --cluster-listen)\n", s.GetNodeId())
		} else {
			fmt.Fprintf(w, "answered by %s at revision %d; leader: %s\n", s.GetNodeId(), s.GetRevision(), orNone(s.GetLeaderId()))
		}
		t := newTable(w, "ID", "ADDRESS", "ROLE")
		for _, m := range s.GetMembers() {
			role := "voter"
			switch {
			case m.GetLeader():
				role = "leader"
			case !m.GetVoter():
				role = "read replica"
			}
			t.row(m.GetId(), m.GetAddress(), role)
		}
		return t.flush()
	}
	status := &cobra.Command{Use: "status", Aliases: []string{"members"}, Short: "Show the members and the leader", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ClusterStatus, error) {
				return v1.NewClusterServiceClient(c).GetClusterStatus(ctx, &v1.GetClusterStatusRequest{})
			}, printStatus)
		}}
	var address string
	var replica bool
	add := &cobra.Command{Use: "add NODE-ID", Short: "Add a node started with its node certificate and no --cluster-peers", Args: cobra.ExactArgs(1),
		Example: "  grantctl cluster add node4 --address 10.0.0.4:8301\n  grantctl cluster add replica1 --address 10.0.1.9:8301 --read-replica",
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ClusterStatus, error) {
				return v1.NewClusterServiceClient(c).AddClusterMember(ctx, &v1.AddClusterMemberRequest{Id: args[0], Address: address, NonVoter: replica})
			}, printStatus)
		}}
	add.Flags().StringVar(&address, "address", "", "the node's cluster address (its --cluster-advertise), host:port")
	add.Flags().BoolVar(&replica, "read-replica", false, "a non-voting member that serves decisions")
	remove := &cobra.Command{Use: "remove NODE-ID", Short: "Remove a node from the cluster", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ClusterStatus, error) {
				return v1.NewClusterServiceClient(c).RemoveClusterMember(ctx, &v1.RemoveClusterMemberRequest{Id: args[0]})
			}, printStatus)
		}}
	transfer := &cobra.Command{Use: "transfer-leadership [NODE-ID]", Short: "Hand leadership to another voter (before restarting the leader)", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			to := ""
			if len(args) == 1 {
				to = args[0]
			}
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ClusterStatus, error) {
				return v1.NewClusterServiceClient(c).TransferLeadership(ctx, &v1.TransferLeadershipRequest{ToId: to})
			}, printStatus)
		}}
	cmd.AddCommand(status, add, remove, transfer)
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
