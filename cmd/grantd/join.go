package main

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/grantd/grantd/pki"
	v1 "github.com/grantd/grantd/proto/grantd/v1"
	"github.com/grantd/grantd/store"
)

// promoteMarker, in the data directory, says that the node joined with a
// voter token and still has to promote itself once it has caught up. It
// outlives a restart in between.
const promoteMarker = "cluster-promote"

// firstNodeCerts gives a node founding a cluster alone (--cluster-peers
// naming only itself) its cluster CA and certificate when its certs
// directory has none: the other nodes then join it by token.
func firstNodeCerts(cfg config, log *slog.Logger) error {
	peers, err := cfg.peers()
	if err != nil || len(peers) != 1 || peers[0].ID != cfg.NodeID {
		return err
	}
	f := pki.ClusterFilesIn(cfg.ClusterCertsDir, cfg.NodeID)
	if _, err := os.Stat(f.CA); !errors.Is(err, os.ErrNotExist) {
		return err // there already (or unreadable: say so)
	}
	if err := pki.IssueNodeCerts(cfg.ClusterCertsDir, []string{cfg.NodeID}, time.Now()); err != nil {
		return fmt.Errorf("cluster CA: %w", err)
	}
	log.Info("created the cluster CA and this node's certificate", "dir", cfg.ClusterCertsDir)
	return nil
}

// joinCluster admits this node to the cluster at one of the --join
// addresses with its join token, unless it has its certificate already
// (it joined before). It writes the certificate the cluster signed into
// --cluster-certs-dir; the node then starts as a member.
func joinCluster(ctx context.Context, cfg config, getenv func(string) string, log *slog.Logger) error {
	files := pki.ClusterFilesIn(cfg.ClusterCertsDir, cfg.NodeID)
	if _, err := os.Stat(files.Cert); err == nil {
		log.Info("this node has its cluster certificate: not joining again", "cert", files.Cert)
		return nil
	}
	text := getenv("GRANTD_JOIN_TOKEN")
	if cfg.JoinTokenFile != "" {
		b, err := os.ReadFile(cfg.JoinTokenFile)
		if err != nil {
			return fmt.Errorf("--join-token-file: %w", err)
		}
		text = string(b)
	}
	if text == "" {
		return errors.New("--join needs a join token (grantctl cluster join-token): GRANTD_JOIN_TOKEN or --join-token-file")
	}
	tok, err := pki.ParseJoinToken(text)
	if err != nil {
		return err
	}
	key, pubPEM, err := pki.NewNodeKey()
	if err != nil {
		return err
	}
	nonce := make([]byte, pki.JoinNonceBytes)
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	req := &v1.JoinRequest{TokenId: tok.ID, NodeId: cfg.NodeID, Address: cmp.Or(cfg.ClusterAdvertise, cfg.ClusterListen),
		PublicKey: pubPEM, Nonce: nonce}
	req.Mac = pki.JoinRequest{TokenID: req.TokenId, NodeID: req.NodeId, Address: req.Address, PublicKeyPEM: pubPEM, Nonce: nonce}.MAC(tok.Secret)
	var errs []error
	for _, addr := range strings.Split(cfg.Join, ",") {
		if addr = strings.TrimSpace(addr); addr == "" {
			continue
		}
		resp, err := askToJoin(ctx, addr, req)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			continue
		}
		ans := pki.JoinAnswer{Nonce: nonce, CACertPEM: resp.GetCaCertificate(), CertPEM: resp.GetCertificate(), Voter: resp.GetVoter()}
		if !hmac.Equal(ans.MAC(tok.Secret), resp.GetMac()) {
			// Not the cluster the token came from: try no further with it.
			return fmt.Errorf("join: %s answered without the token's MAC: it is not the cluster that made this token", addr)
		}
		if err := pki.WriteJoinedNode(cfg.ClusterCertsDir, cfg.NodeID, key, ans.CACertPEM, ans.CertPEM); err != nil {
			return err
		}
		if ans.Voter {
			if err := os.WriteFile(filepath.Join(cfg.DataDir, promoteMarker), []byte("voter\n"), 0o600); err != nil {
				return err
			}
		}
		log.Info("joined the cluster", "via", addr, "voter", ans.Voter, "certs", cfg.ClusterCertsDir)
		return nil
	}
	return fmt.Errorf("join: no address admitted this node: %w", errors.Join(errs...))
}

// askToJoin sends the join request to one node's API. The TLS certificate
// is not checked: the answer's MAC proves where it comes from, and the
// request carries no secret (pki/join.go).
func askToJoin(ctx context.Context, addr string, req *v1.JoinRequest) (*v1.JoinResponse, error) {
	creds := credentials.NewTLS(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) //nolint:gosec // authenticated by the MAC
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return v1.NewClusterServiceClient(conn).Join(ctx, req)
}

// promoteIfJoinedAsVoter makes a node that joined with a voter token a
// voter, now that it has caught up (it joined as a read replica).
func promoteIfJoinedAsVoter(ctx context.Context, cfg config, st *store.Store, log *slog.Logger) error {
	marker := filepath.Join(cfg.DataDir, promoteMarker)
	if _, err := os.Stat(marker); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	addr := cmp.Or(cfg.ClusterAdvertise, cfg.ClusterListen)
	if err := st.ChangeMembership(ctx, store.MembershipChange{Action: "add", ID: cfg.NodeID, Address: addr}); err != nil {
		return fmt.Errorf("promoting this node to voter: %w", err)
	}
	log.Info("promoted to voter", "node", cfg.NodeID)
	return os.Remove(marker)
}
