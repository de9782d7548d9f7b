package main

import "github.com/grantd/grantd/bench/peerkit"

// naivePolicy is what a team writing its first OPA policy for this model
// would write: the grants as one array, iterated for every question.
const naivePolicy = `package naive

subjects contains input.subject

subjects contains "authenticated"

subjects contains s if some s in data.members[input.subject]

default allow := false

allow if data.admins[input.subject]

allow if {
	some g in data.grants
	g.subject in subjects
	covers(g)
	data.roles[g.role][input.operation]
	every o in input.options {
		some h in data.grants
		h.subject in subjects
		covers(h)
		data.roles[h.role][input.operation][o]
	}
}

covers(g) if g.collection == input.collection

covers(g) if {
	not g.exact
	g.collection == "/"
}

covers(g) if {
	not g.exact
	startswith(input.collection, concat("", [g.collection, "/"]))
}
`

// naiveData is the peer data as naivePolicy reads it: the grants as one
// array.
func naiveData(p *peerkit.Data) map[string]any {
	roles := map[string]any{}
	for id, ops := range p.Roles {
		set := map[string]any{}
		for op, opts := range ops {
			os := map[string]any{}
			for _, o := range opts {
				os[o] = true
			}
			set[op] = os
		}
		roles[id] = set
	}
	grants := make([]any, len(p.Grants))
	for i, g := range p.Grants {
		grants[i] = map[string]any{"subject": g.Subject, "role": g.Role, "collection": g.Collection, "exact": g.Exact}
	}
	members := map[string]any{}
	for u, subs := range p.Members {
		list := make([]any, len(subs))
		for i, s := range subs {
			list[i] = s
		}
		members[u] = list
	}
	admins := map[string]any{}
	for _, a := range p.Admins {
		admins[a] = true
	}
	return map[string]any{"roles": roles, "grants": grants, "members": members, "admins": admins}
}
