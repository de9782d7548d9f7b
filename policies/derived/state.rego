# The derived table at, for stock OPA on an exported bundle (see
# derive.rego). grantd itself never loads this module: its storage serves
# data.grantd.state.at. Keyed two levels deep, so that the policy's
# at[path][subject] computes one subject's roles, not the whole entry.
package grantd.state

import data.grantd.derive

at[path][s] := derive.roles_in(maps, s) if {
	some path, _ in data.grantd.state.c
	maps := derive.grant_maps[path]
	some g in maps
	some s, _ in g
}
