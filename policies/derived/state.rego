# The derived tables at and held, for stock OPA on an exported bundle (see
# derive.rego). grantd itself never loads this module: its storage serves
# data.grantd.state.at and data.grantd.state.held. Keyed two levels deep,
# so that at[path][subject] computes one subject's roles, and the policy's
# held[principal][path] one principal's, not a whole entry.
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
