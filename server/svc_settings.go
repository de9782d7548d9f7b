package server

import (
	"context"

	"github.com/grantd/grantd/store"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

type settingsService struct {
	v1.UnimplementedSettingsServiceServer
	*writer
}

func (s *settingsService) GetSettings(context.Context, *v1.GetSettingsRequest) (*v1.Settings, error) {
	set, err := s.store.Read().Settings()
	if err != nil || set == nil {
		return nil, orNotFound(err, "settings not initialized")
	}
	return settingsPB(set), nil
}

// UpdateSettings replaces the settings; the store validates them as a whole.
func (s *settingsService) UpdateSettings(ctx context.Context, req *v1.UpdateSettingsRequest) (*v1.UpdateSettingsResponse, error) {
	in := req.GetSettings()
	if in == nil || in.GetSessions() == nil {
		return nil, invalid("settings with sessions are required")
	}
	current, err := s.store.Read().Settings()
	if err != nil || current == nil {
		return nil, orNotFound(err, "settings not initialized")
	}
	set := store.Settings{DefaultPrivateRole: in.GetDefaultPrivateRole(), NodeIsolation: in.GetNodeIsolation(),
		AuditRetention: int(in.GetAuditRetention()),
		Sessions: store.SessionSettings{
			LifetimeMinutes:         int(in.GetSessions().GetLifetimeMinutes()),
			RenewalThresholdMinutes: int(in.GetSessions().GetRenewalThresholdMinutes()),
			PerUserLimit:            int(in.GetSessions().GetPerUserLimit()),
		}}
	if set.AuditRetention == 0 {
		set.AuditRetention = current.AuditRetention
	}
	rev, err := s.apply(ctx, store.UpdateSettings{Settings: set})
	if err != nil {
		return nil, err
	}
	return &v1.UpdateSettingsResponse{Settings: settingsPB(&set), Revision: rev}, nil
}
