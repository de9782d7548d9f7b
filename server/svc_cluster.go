package server

import (
	"context"
	"log/slog"
	"time"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
	"github.com/grantd/grantd/store"
)

// clusterService shows and changes the cluster's membership. Changes are
// raft configuration changes (not state writes): the leader makes them,
// and they are logged, not audited in the state.
type clusterService struct {
	v1.UnimplementedClusterServiceServer
	store *store.Store
	log   *slog.Logger
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
