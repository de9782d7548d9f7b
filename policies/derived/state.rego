# The derived tables at, held, ps and pt, for stock OPA on an exported
# bundle (see derive.rego). grantd itself never loads this module: its
# storage serves data.grantd.state.at, .held, .ps and .pt. Keyed two levels
# deep, so that at[path][subject] computes one subject's roles, and the
# policy's held[principal][path] and ps[principal][path] one principal's at
# one collection, not a whole entry.
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

# ps[principal][path]: true when the principal may schedule on the
# collection's subtree through a grant there (derive.schedules_subtree).
ps[principal][path] if {
	some principal, _ in data.grantd.state.p
	some s, _ in data.grantd.state.p[principal].s
	some path, _ in data.grantd.state.sched[s]
	derive.schedules_subtree(principal, path)
}

# pt[principal]: the topmost collections the principal may schedule on,
# sorted. Undefined when it may schedule nowhere.
pt[principal] := derive.topmost_schedulable(principal) if {
	some principal, _ in data.grantd.state.p
}
