package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

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
		if s.GetHealthKnown() {
			fmt.Fprintf(w, "healthy: %v; voters that may fail without losing the quorum: %d\n", s.GetHealthy(), s.GetFailureTolerance())
			t := newTable(w, "ID", "ADDRESS", "ROLE", "HEALTHY")
			for _, m := range s.GetMembers() {
				t.row(m.GetId(), m.GetAddress(), memberRole(m), fmt.Sprint(m.GetHealthy()))
			}
			return t.flush()
		}
		t := newTable(w, "ID", "ADDRESS", "ROLE")
		for _, m := range s.GetMembers() {
			t.row(m.GetId(), m.GetAddress(), memberRole(m))
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
	var ttlHours int32
	joinToken := &cobra.Command{Use: "join-token", Short: "Make a token that admits new nodes (grantd --join), shown only once", Args: cobra.NoArgs,
		Example: "  grantctl cluster join-token > join-token            # voters, for 24 hours\n" +
			"  grantctl cluster join-token --read-replica --ttl-hours 1\n" +
			"  # then on the new node:\n" +
			"  grantd --node-id node2 --cluster-listen 10.0.0.2:8301 --cluster-certs-dir /etc/grantd/cluster \\\n" +
			"    --join 10.0.0.1:8443 --join-token-file join-token",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.JoinToken, error) {
				return v1.NewClusterServiceClient(c).CreateJoinToken(ctx, &v1.CreateJoinTokenRequest{NonVoter: replica, TtlHours: ttlHours})
			}, func(w io.Writer, t *v1.JoinToken) error {
				kind := "voters"
				if !t.GetVoter() {
					kind = "read replicas"
				}
				// The token alone on stdout, so that it can go to a file.
				fmt.Fprintf(cmd.ErrOrStderr(), "join token %s admits %s until %s; revoke it with grantctl cluster revoke-join-token %s\n",
					t.GetId(), kind, t.GetExpires(), t.GetId())
				_, err := fmt.Fprintln(w, t.GetToken())
				return err
			})
		}}
	joinToken.Flags().BoolVar(&replica, "read-replica", false, "the token admits non-voting members only")
	joinToken.Flags().Int32Var(&ttlHours, "ttl-hours", 24, "how long the token admits nodes (at most 168)")
	revokeToken := &cobra.Command{Use: "revoke-join-token TOKEN-ID", Short: "Stop a join token admitting nodes", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.RevokeJoinTokenResponse, error) {
				return v1.NewClusterServiceClient(c).RevokeJoinToken(ctx, &v1.RevokeJoinTokenRequest{Id: args[0]})
			}, func(w io.Writer, _ *v1.RevokeJoinTokenResponse) error {
				_, err := fmt.Fprintf(w, "join token %s revoked\n", args[0])
				return err
			})
		}}
	cmd.AddCommand(status, add, remove, transfer, joinToken, revokeToken)
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func newBackupCommand(g *globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{Use: "backup", Short: "Write the whole state (every secret included) to a file, for grantd restore", Args: cobra.NoArgs,
		Example: "  grantctl backup -o grantd-$(date +%F).jsonl",
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.target()
			if err != nil {
				return err
			}
			if s.Token == "" {
				return errors.New("not logged in to " + s.Server + "; run grantctl login")
			}
			tc, err := tlsConfig(s)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Minute)
			defer cancel()
			var resp *http.Response
			for _, addr := range serverList(s.Server) { // the first node that answers
				req, rerr := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/v1/backup", nil)
				if rerr != nil {
					return rerr
				}
				req.Header.Set("Authorization", "Bearer "+s.Token)
				if resp, err = (&http.Client{Transport: &http.Transport{TLSClientConfig: tc}}).Do(req); err == nil {
					break
				}
			}
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				return fmt.Errorf("backup refused: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			n, err := io.Copy(f, resp.Body)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				_ = os.Remove(out)
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d bytes, revision %s); it holds every secret grantd keeps: store it like them\n",
				out, n, resp.Header.Get("X-Grantd-Revision"))
			return nil
		}}
	cmd.Flags().StringVarP(&out, "output", "o", "grantd-backup.jsonl", "file to write (must not exist)")
	return cmd
}

func memberRole(m *v1.ClusterMember) string {
	switch {
	case m.GetLeader():
		return "leader"
	case !m.GetVoter():
		return "read replica"
	}
	return "voter"
}
