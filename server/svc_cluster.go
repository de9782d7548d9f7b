package server

import (
	"context"
	"crypto/hmac"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grantd/grantd/pki"
	v1 "github.com/grantd/grantd/proto/grantd/v1"
	"github.com/grantd/grantd/store"
)

// clusterService shows and changes the cluster's membership. Changes are
// raft configuration changes (not state writes): the leader makes them,
// and they are logged, not audited in the state.
type clusterService struct {
	v1.UnimplementedClusterServiceServer
	store  *store.Store
	writer *writer
	log    *slog.Logger
	now    func() time.Time
}

// Join tokens live 24 hours unless asked otherwise, a week at most.
const (
	defaultJoinTokenTTL  = 24 * time.Hour
	maxJoinTokenTTLHours = 7 * 24
)

func (s *clusterService) CreateJoinToken(ctx context.Context, req *v1.CreateJoinTokenRequest) (*v1.JoinToken, error) {
	if !s.store.Clustered() {
		return nil, status.Error(codes.FailedPrecondition, "this node runs alone (no --cluster-listen): nothing to join")
	}
	// Refuse a token that could not admit anyone.
	if row, err := s.store.Read().KeyMaterial(pki.ClusterCAID); err != nil {
		return nil, err
	} else if row == nil {
		return nil, status.Error(codes.FailedPrecondition, pki.ErrNoClusterCA.Error())
	}
	ttl := defaultJoinTokenTTL
	if h := req.GetTtlHours(); h != 0 {
		ttl = time.Duration(h) * time.Hour
	}
	tok, err := pki.NewJoinToken()
	if err != nil {
		return nil, err
	}
	now := s.now()
	row := store.JoinToken{ID: tok.ID, Secret: tok.Secret, Voter: !req.GetNonVoter(), Created: now, Expires: now.Add(ttl),
		CreatedBy: principalFrom(ctx).Subject()}
	if _, err := s.writer.apply(ctx, store.CreateJoinToken{Token: row}); err != nil {
		return nil, err
	}
	return &v1.JoinToken{Id: tok.ID, Token: tok.String(), Voter: row.Voter, Expires: row.Expires.UTC().Format(time.RFC3339)}, nil
}

func (s *clusterService) RevokeJoinToken(ctx context.Context, req *v1.RevokeJoinTokenRequest) (*v1.RevokeJoinTokenResponse, error) {
	if _, err := s.writer.apply(ctx, store.RevokeJoinToken{ID: req.GetId()}); err != nil {
		return nil, err
	}
	return &v1.RevokeJoinTokenResponse{}, nil
}

// errJoinRefused is all a joining node learns about a bad token: unknown,
// expired, revoked or a wrong MAC look the same. The log says which.
var errJoinRefused = status.Error(codes.PermissionDenied, "join refused: the join token is unknown, expired or revoked, or the request was not made with it")

// Join admits a node holding a join token (pki/join.go has the protocol).
// The node joins as a read replica, which needs no quorum change, so a
// one-node cluster can admit its second member before that member runs;
// a voter token's node promotes itself once it has caught up.
func (s *clusterService) Join(ctx context.Context, req *v1.JoinRequest) (*v1.JoinResponse, error) {
	tok, err := s.store.Read().JoinToken(req.GetTokenId())
	if err != nil {
		return nil, err
	}
	now := s.now()
	if tok == nil || !now.Before(tok.Expires) {
		s.log.WarnContext(ctx, "cluster join refused: unknown or expired token", "tokenId", req.GetTokenId(), "node", req.GetNodeId(), "client", clientAddr(ctx))
		return nil, errJoinRefused
	}
	want := pki.JoinRequest{TokenID: req.GetTokenId(), NodeID: req.GetNodeId(), Address: req.GetAddress(),
		PublicKeyPEM: req.GetPublicKey(), Nonce: req.GetNonce()}.MAC(tok.Secret)
	if !hmac.Equal(want, req.GetMac()) {
		s.log.WarnContext(ctx, "cluster join refused: MAC does not match the token", "tokenId", req.GetTokenId(), "node", req.GetNodeId(), "client", clientAddr(ctx))
		return nil, errJoinRefused
	}
	pub, err := pki.ParsePublicKey(req.GetPublicKey())
	if err != nil {
		return nil, invalid("publicKey: %v", err)
	}
	members, err := s.store.Members()
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		if m.ID == req.GetNodeId() {
			return nil, status.Errorf(codes.AlreadyExists, "node %q is a member already; remove it first (grantctl cluster remove %s)", m.ID, m.ID)
		}
	}
	caPEM, certPEM, err := pki.IssueJoinedNodeCert(s.store, req.GetNodeId(), pub, now)
	if errors.Is(err, pki.ErrNoClusterCA) {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	} else if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "cluster join", "tokenId", tok.ID, "node", req.GetNodeId(), "address", req.GetAddress(),
		"voter", tok.Voter, "client", clientAddr(ctx))
	if err := s.store.ChangeMembership(ctx, store.MembershipChange{Action: "add", ID: req.GetNodeId(), Address: req.GetAddress(), NonVoter: true}); err != nil {
		return nil, err
	}
	ans := pki.JoinAnswer{Nonce: req.GetNonce(), CACertPEM: caPEM, CertPEM: certPEM, Voter: tok.Voter}
	return &v1.JoinResponse{CaCertificate: caPEM, Certificate: certPEM, Voter: tok.Voter, Mac: ans.MAC(tok.Secret)}, nil
}

func (s *clusterService) GetClusterStatus(context.Context, *v1.GetClusterStatusRequest) (*v1.ClusterStatus, error) {
	return s.status()
}

func (s *clusterService) AddClusterMember(ctx context.Context, req *v1.AddClusterMemberRequest) (*v1.ClusterStatus, error) {
	return s.change(ctx, store.MembershipChange{Action: "add", ID: req.GetId(), Address: req.GetAddress(), NonVoter: req.GetNonVoter()})
}

func (s *clusterService) RemoveClusterMember(ctx context.Context, req *v1.RemoveClusterMemberRequest) (*v1.ClusterStatus, error) {
	return s.change(ctx, store.MembershipChange{Action: "remove", ID: req.GetId()})
}

func (s *clusterService) TransferLeadership(ctx context.Context, req *v1.TransferLeadershipRequest) (*v1.ClusterStatus, error) {
	return s.change(ctx, store.MembershipChange{Action: "transfer", ID: req.GetToId()})
}

func (s *clusterService) change(ctx context.Context, c store.MembershipChange) (*v1.ClusterStatus, error) {
	s.log.InfoContext(ctx, "cluster membership change", "action", c.Action, "id", c.ID, "address", c.Address,
		"nonVoter", c.NonVoter, "actor", principalFrom(ctx).Subject().String())
	if err := s.store.ChangeMembership(ctx, c); err != nil {
		return nil, err
	}
	return s.status()
}

func (s *clusterService) status() (*v1.ClusterStatus, error) {
	out := &v1.ClusterStatus{NodeId: s.store.NodeID(), LeaderId: s.store.Leader(), Revision: s.store.Revision(),
		Clustered: s.store.Clustered()}
	if lc := s.store.LastContact(); !lc.IsZero() {
		out.LastContact = lc.UTC().Format(time.RFC3339Nano)
	}
	members, err := s.store.Members()
	if err != nil {
		return nil, err
	}
	h, known := s.store.Health()
	out.HealthKnown, out.Healthy, out.FailureTolerance = known, h.Healthy, int32(h.FailureTolerance)
	for _, m := range members {
		out.Members = append(out.Members, &v1.ClusterMember{Id: m.ID, Address: m.Address, Voter: m.Voter, Leader: m.Leader,
			Healthy: h.Members[m.ID]})
	}
	return out, nil
}
