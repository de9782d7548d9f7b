# The derived tables at, held, ps and pt, for stock OPA on an exported
# bundle (see derive.rego). grantd itself never loads this module: its
# storage serves data.grantd.state.at, .held, .ps and .pt. at and held are
# keyed two levels deep, so that at[path][subject] computes one subject's
# roles, and the policy's held[principal][path] one principal's at one
# collection, not a whole entry; ps and pt one level, so that the policy's
# ps[principal][path] for each collection of a chain reads one entry, which
# OPA computes once per query.
package grantd.state

import data.grantd.derive

at[path][s] := derive.roles_in(maps, s) if {
	some path, _ in data.grantd.state.c
	maps := derive.grant_maps[path]
	some g in maps
	some s, _ in g
}

# held[principal][path]: the roles the principal's subjects hold at the
# collection, as a set {role: true}. Undefined when it holds none.
held[principal][path] := derive.held_at(principal, path) if {
	some principal, _ in data.grantd.state.p
	some path, _ in data.grantd.state.c
}

# ps[principal]: the collections on whose subtree the principal may
# schedule through a grant there, as a set; pt[principal]: the topmost
# collections it may schedule on, sorted. Undefined when there are none.
ps[principal] := derive.subtree_schedulable(principal) if {
	some principal, _ in data.grantd.state.p
}

pt[principal] := derive.topmost_schedulable(principal) if {
	some principal, _ in data.grantd.state.p
}
