# The derived tables at, held, holds, hs and pt, for stock OPA on an
# exported bundle (see derive.rego). grantd itself never loads this
# module: its storage serves data.grantd.state.at, .held, .holds, .hs and
# .pt. at, held and hs are keyed two levels deep, so that
# at[path][subject] computes one subject's roles, and the policy's
# held[principal][path] and hs[principal][path] one principal's at one
# collection, not a whole entry; holds three levels, pt one.
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

# holds[principal][path][operation]: the options those roles grant with
# the operation, for every operation of theirs. Keyed three levels deep,
# so that the policy's question (one operation) looks that operation up
# in each role held rather than building every operation's entry.
holds[principal][path][op] := derive.options_held(roles, op) if {
	some principal, _ in data.grantd.state.p
	some path, _ in data.grantd.state.c
	roles := data.grantd.state.held[principal][path]
	some r, _ in roles
	some op, _ in data.grantd.state.roles[r]
}

# hs[principal][path]: the highest collection of the path's chain on
# whose subtree the principal may schedule through a grant there;
# pt[principal]: the topmost collections it may schedule on, sorted.
# Undefined when there are none.
hs[principal][path] := derive.highest_schedulable(principal, path) if {
	some principal, _ in data.grantd.state.p
	some path, _ in data.grantd.state.c
}

pt[principal] := derive.topmost_schedulable(principal) if {
	some principal, _ in data.grantd.state.p
}
