package server

import (
	"context"
	"time"

	"github.com/grantd/grantd/ldapsync"
)

// syncDue reports whether the scheduled LDAP sync runs at the top of the
// hour at: every intervalHours hours, counted in UTC from midnight (so 24
// runs at 00:00 UTC, 6 at 00:00, 06:00, 12:00 and 18:00). 0 is off.
func syncDue(at time.Time, intervalHours int) bool {
	if intervalHours <= 0 {
		return false
	}
	return at.Unix()/3600%int64(intervalHours) == 0
}

// scheduleSyncs starts the scheduled LDAP syncs at the top of each hour
// until ctx ends.
func (s *Server) scheduleSyncs(ctx context.Context) {
	for {
		now := time.Now()
		next := now.Truncate(time.Hour).Add(time.Hour)
		timer := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		s.scheduledSync(next)
	}
}

// scheduledSync starts the run scheduled for the top of the hour at, when
// one is due: on the leader only, with the integration on. It returns the
// run, or nil.
func (s *Server) scheduledSync(at time.Time) *ldapsync.Run {
	if !s.store.IsLeader() {
		return nil
	}
	cfg, err := ldapsync.StoredConfig(s.store.Read())
	if err != nil {
		s.log.Error("scheduled ldap sync: reading the configuration", "err", err)
		return nil
	}
	if !cfg.Enabled || !syncDue(at, cfg.SyncIntervalHours) {
		return nil
	}
	return s.deps.syncer.Start(ldapsync.Options{Trigger: "schedule"})
}
