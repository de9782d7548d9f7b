package server

import (
	"encoding/json"

	"github.com/grantd/grantd/authn"
	"github.com/grantd/grantd/store"
)

// loginEvent is a failure or success of a login, told to the other nodes
// of a cluster so that the throttle counts cluster-wide.
type loginEvent struct {
	Failed   bool   `json:"failed"`
	Username string `json:"username"`
	Address  string `json:"address"`
}

// shareLoginThrottle wires a node's login throttle to the others': each
// counts what the others count. (Soft state: a message lost to a node
// that is down only lets that node count less.)
func shareLoginThrottle(st *store.Store, t *authn.Throttle) {
	t.ShareWith(func(failed bool, username, address string) {
		if b, err := json.Marshal(loginEvent{Failed: failed, Username: username, Address: address}); err == nil {
			st.Broadcast(b)
		}
	})
	st.SetPeerHandler(func(body []byte) {
		var ev loginEvent
		if json.Unmarshal(body, &ev) != nil || len(ev.Username) > 256 || len(ev.Address) > 64 {
			return
		}
		t.Peer(ev.Failed, ev.Username, ev.Address)
	})
}
