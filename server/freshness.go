package server

import (
	"fmt"
	"time"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/store"
)

// freshness bounds how stale a cluster node's state may be when it
// decides: a follower cut off from the leader keeps deciding from its last
// state for up to max, then denies, saying why, until it hears from a
// leader again. Every decision path asks it: the API, the engine plugin
// and proxy, the registry token service.
type freshness struct {
	store *store.Store
	max   time.Duration
}

// denial is the decision to give instead of deciding, or nil.
func (f freshness) denial() *authz.Decision {
	if f.max <= 0 || f.store == nil {
		return nil
	}
	st, heard := f.store.Staleness()
	if heard && st <= f.max {
		return nil
	}
	since := "has never heard from the cluster's leader"
	if heard {
		since = fmt.Sprintf("has not heard from the cluster's leader for %s", st.Round(100*time.Millisecond))
	}
	return &authz.Decision{Code: authz.CodeRevisionUnavailable, Revision: f.store.Revision(),
		Reason: fmt.Sprintf("denied: this node %s (the limit is %s); its state may be out of date", since, f.max)}
}
