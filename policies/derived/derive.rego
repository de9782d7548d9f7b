# Derived views of the compiled state, as Rego: what data.grantd.state.at,
# .held, .hs and .pt hold. grantd's storage computes them natively when the
# policy reads them (authz/derived.go); an exported bundle carries these
# modules instead of the tables, so stock OPA computes the same values from
# the tables it does carry. authz's tests check that the two agree.
package grantd.derive

# grant_maps[path] lists the grant maps that apply at a collection: gs of
# each path of its chain, nearest first, then ge of the collection. (A
# rule, not a function: OPA keeps its value for the rest of the query, so
# at[path][s] for each of a principal's subjects gathers them once.)
grant_maps[path] := array.concat(
	[g | some a in chain; g := data.grantd.state.gs[a]],
	[g | g := data.grantd.state.ge[path]],
) if some path, chain in data.grantd.state.c

# applies_at(path) is at[path]: the collection's grant maps merged by
# subject ({subject: {role: grant ID}}). Undefined when no grant applies.
applies_at(path) := {s: roles_in(maps, s) | some g in maps; some s, _ in g} if {
	maps := grant_maps[path]
	count(maps) > 0
}

# roles_in(maps, s) is at[path][s]: the subject's roles in the maps; of the
# grants that give it the same role, the nearest names it.
roles_in(maps, s) := {r: id |
	some i, g in maps
	some r, id in g[s]
	not held_nearer(maps, i, s, r)
}

held_nearer(maps, i, s, r) if {
	some j, g in maps
	j < i
	g[s][r]
}

# held_at(principal, path) is held[principal][path]: the roles that the
# principal's subjects hold in at[path], as a set {role: true}. Undefined
# when it holds none there.
held_at(principal, path) := roles if {
	roles := {role: true |
		some s, _ in data.grantd.state.p[principal].s
		some role, _ in data.grantd.state.at[path][s]
	}
	count(roles) > 0
}

# holds_at(principal, path) is holds[principal][path]: every operation of
# the roles the principal holds at the collection (held), with the union
# of the options those roles grant with it (options_held), {operation:
# {option: true}}. Undefined when the roles it holds there have no
# operation.
holds_at(principal, path) := ops if {
	roles := data.grantd.state.held[principal][path]
	ops := {op: options_held(roles, op) | some r, _ in roles; some op, _ in data.grantd.state.roles[r]}
	count(ops) > 0
}

# options_held(roles, op) is the union of the options that the roles, a
# set {role: true}, grant with the operation.
options_held(roles, op) := {o: true |
	some r, _ in roles
	some o, _ in data.grantd.state.roles[r][op]
}

# highest_schedulable(principal, path) is hs[principal][path]: of the
# collections where a subtree grant of one of the principal's subjects
# holds node.schedule and that are among that subject's topmost such
# collections (sched[s][path] is "subtree" or "both"), the highest on the
# path's chain (which lists the path first, "/" last). The principal's
# set is built once, then each collection of the chain looked up in it.
# Undefined when there is none.
highest_schedulable(principal, path) := levels[count(levels) - 1] if {
	paths := {p: true |
		some s, _ in data.grantd.state.p[principal].s
		some p, kind in data.grantd.state.sched[s]
		kind != "all"
	}
	levels := [a | some a in data.grantd.state.c[path]; paths[a]]
	count(levels) > 0
}

# topmost_schedulable(principal) is pt[principal]: of the collections where
# a grant of one of the principal's subjects holds node.schedule, those
# with no such collection above them, sorted. Undefined when there are
# none.
topmost_schedulable(principal) := topmost(anywhere) if {
	anywhere := {path |
		some s, _ in data.grantd.state.p[principal].s
		some path, kind in data.grantd.state.sched[s]
		kind != "subtree"
	}
	count(anywhere) > 0
}

# A collection's path starts with each of its ancestors' paths and a
# slash, so one builtin call per collection tests all its ancestors.
topmost(paths) := ["/"] if {
	"/" in paths
} else := sort({p | some p in paths; not strings.any_prefix_match(p, prefixes)}) if {
	prefixes := {concat("", [a, "/"]) | some a in paths}
}
