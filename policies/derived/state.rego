# The derived tables at, held, hs and pt, for stock OPA on an exported
# bundle (see derive.rego). grantd itself never loads this module: its
# storage serves data.grantd.state.at, .held, .hs and .pt. at, held and hs
# are keyed two levels deep, so that at[path][subject] computes one
# subject's roles, and the policy's held[principal][path] and
# hs[principal][path] one principal's at one collection, not a whole
# entry; pt one level.
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
