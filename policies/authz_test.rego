# Tests of the fixed policy against a small hand-written state, in the style
# of `opa test`. TestRegoTests runs them with OPA's test runner.
package grantd.authz_test

import data.grantd.authz
import data.grantd.derive

state := {
	"p": {
		"user:maria": {"kind": "user", "name": "maria", "active": true, "admin": false, "default": "/Shared/Private/maria", "s": {"user:maria": true, "team:acme/mobile": true, "org:acme": true, "authenticated": true}},
		"user:root": {"kind": "user", "name": "root", "active": true, "admin": true, "default": "/Shared/Private/root", "s": {"user:root": true, "authenticated": true}},
		"user:gone": {"kind": "user", "name": "gone", "active": false, "admin": true, "default": "/", "s": {"user:gone": true, "authenticated": true}},
		"user:owner": {"kind": "user", "name": "owner", "active": true, "admin": false, "default": "/", "s": {"user:owner": true, "org:web": true, "authenticated": true}},
		"anonymous": {"kind": "anonymous", "name": "", "active": true, "admin": false, "default": "", "s": {"anonymous": true}},
	},
	"ops": {
		"container.create": {"kind": "swarm", "create": true, "reserved": false, "options": {"privileged": true, "bridge_networking": true}},
		"container.exec": {"kind": "swarm", "create": false, "reserved": false, "options": {}},
		"container.view": {"kind": "swarm", "create": false, "reserved": false, "options": {}},
		"service.create": {"kind": "swarm", "create": true, "reserved": false, "options": {}},
		"secret.use": {"kind": "swarm", "create": false, "reserved": false, "options": {}},
		"node.schedule": {"kind": "swarm", "create": false, "reserved": false, "options": {}},
		"repository.pull": {"kind": "repository", "create": false, "reserved": false, "options": {}},
		"repository.push": {"kind": "repository", "create": false, "reserved": false, "options": {}},
		"repository.delete": {"kind": "repository", "create": false, "reserved": true, "options": {}},
	},
	"roles": {
		"rc": {"container.create": {"bridge_networking": true}, "container.view": {}, "service.create": {}},
		"fc": {"container.create": {"bridge_networking": true, "privileged": true}, "container.exec": {}, "container.view": {}, "secret.use": {}},
		"sched": {"node.schedule": {}},
		"ro": {"repository.pull": {}},
	},
	"c": {
		"/": ["/"],
		"/prod": ["/prod", "/"],
		"/prod/mobile": ["/prod/mobile", "/prod", "/"],
		"/Shared": ["/Shared", "/"],
		"/Shared/Private": ["/Shared/Private", "/Shared", "/"],
		"/Shared/Private/maria": ["/Shared/Private/maria", "/Shared/Private", "/Shared", "/"],
	},
	"gs": {
		"/prod": {"team:acme/mobile": {"rc": "g1"}},
		"/Shared": {"authenticated": {"sched": "g2"}},
		"/Shared/Private/maria": {"user:maria": {"fc": "g3"}},
	},
	"ge": {"/prod/mobile": {"org:acme": {"fc": "g4"}}},
	"sched": {"authenticated": {"/Shared": "both"}},
	"repos": {"web/app": {"ns": "web", "public": false}, "web/pub": {"ns": "web", "public": true}},
	"ns": {"web": {"kind": "org", "admins": {"owner": true}}, "maria": {"kind": "user", "admins": {}}},
	"rg": {"repository:web/app": {"team:acme/mobile": {"ro": "g5"}}},
}

# with_derived completes a hand-written state with its derived tables at,
# held, holds, hs and pt, as policies/derived defines them (grantd's
# storage computes them natively).
with_derived(st) := object.union(held, {"holds": {pr: e |
	some pr, _ in st.p
	e := {path: ops |
		some path, _ in st.c
		ops := derive.holds_at(pr, path) with data.grantd.state as held
	}
	count(e) > 0
}}) if {
	applies := object.union(st, {"at": {p: e |
		some p, _ in st.c
		e := derive.applies_at(p) with data.grantd.state as st
	}})
	held := object.union(applies, {
		"held": {pr: e |
			some pr, _ in st.p
			e := {path: roles |
				some path, _ in st.c
				roles := derive.held_at(pr, path) with data.grantd.state as applies
			}
			count(e) > 0
		},
		"hs": {pr: e |
			some pr, _ in st.p
			e := {path: h |
				some path, _ in st.c
				h := derive.highest_schedulable(pr, path) with data.grantd.state as st
			}
			count(e) > 0
		},
		"pt": {pr: top |
			some pr, _ in st.p
			top := derive.topmost_schedulable(pr) with data.grantd.state as st
		},
	})
}

decide(req) := d if {
	d := authz.decision with input as req with data.grantd.state as with_derived(state)
}

test_inherited_subtree_grant if {
	decide({"subject": "user:maria", "operation": "container.view", "resource": {"collection": "/prod/mobile"}}).allowed
}

test_exact_grant_applies_only_at_its_collection if {
	decide({"subject": "user:maria", "operation": "container.exec", "resource": {"collection": "/prod/mobile"}}).allowed
	not decide({"subject": "user:maria", "operation": "container.exec", "resource": {"collection": "/prod"}}).allowed
}

test_options_are_unioned_and_checked if {
	d := decide({"subject": "user:maria", "operation": "container.create", "options": ["privileged"], "resource": {"collection": "/prod"}})
	not d.allowed
	d.code == "missing_options"
	d.options == {"privileged"}
	decide({"subject": "user:maria", "operation": "container.create", "options": ["privileged"], "resource": {"collection": "/prod/mobile"}}).allowed
}

test_unknown_things_deny_with_a_code if {
	decide({"subject": "user:nobody", "operation": "container.view", "resource": {"collection": "/prod"}}).code == "unknown_subject"
	decide({"subject": "user:maria", "operation": "container.fly", "resource": {"collection": "/prod"}}).code == "unknown_operation"
	decide({"subject": "user:maria", "operation": "container.create", "options": ["rocket"], "resource": {"collection": "/prod"}}).code == "unknown_option"
	decide({"subject": "user:maria", "operation": "container.view", "resource": {"collection": "/nowhere"}}).code == "unknown_collection"
	decide({"subject": "user:root", "operation": "container.view", "resource": {"collection": "/nowhere"}}).code == "unknown_collection"
}

test_admins_and_inactive if {
	decide({"subject": "user:root", "operation": "container.exec", "resource": {"collection": "/prod"}}).allowed
	decide({"subject": "user:gone", "operation": "container.view", "resource": {"collection": "/prod"}}).code == "inactive_subject"
}

test_labels if {
	decide({"subject": "user:maria", "operation": "container.view", "resource": {"labels": {"com.docker.ucp.access.label": "/prod"}}}).allowed
	decide({"subject": "user:maria", "operation": "container.view", "resource": {"labels": {"com.docker.ucp.access.label": "legacy"}}}).code == "unknown_collection"
	decide({"subject": "user:maria", "operation": "container.create", "resource": {"labels": {}}}).collection == "/Shared/Private/maria"
	decide({"subject": "user:maria", "operation": "container.view", "resource": {"labels": {}}}).collection == "/"
}

# A question that names its collection and the same question asked with
# the collection's label take different branches of the decision (the
# first without target); they answer alike, whatever the answer.
test_named_and_labelled_questions_agree if {
	every q in [
		{"subject": "user:maria", "operation": "container.view", "collection": "/nowhere"},
		{"subject": "user:root", "operation": "container.exec", "collection": "/prod"},
		{"subject": "user:maria", "operation": "container.exec", "collection": "/prod"},
		{"subject": "user:maria", "operation": "container.create", "collection": "/prod", "options": ["privileged"]},
		{"subject": "user:maria", "operation": "service.create", "collection": "/prod/mobile", "secrets": ["/prod"]},
		{"subject": "user:maria", "operation": "service.create", "collection": "/prod", "secrets": ["/prod"]},
		{"subject": "user:maria", "operation": "container.create", "collection": "/prod/mobile", "options": ["privileged"]},
		{"subject": "user:maria", "operation": "container.view", "collection": "/prod/mobile"},
	] {
		base := object.remove(q, ["collection"])
		named := decide(object.union(base, {"resource": {"collection": q.collection}}))
		labelled := decide(object.union(base, {"resource": {"labels": {"com.docker.ucp.access.label": q.collection}}}))
		named == labelled
	}
	decide({"subject": "user:maria", "operation": "container.view", "resource": {"collection": "/prod/mobile"}}).code == "granted"
	decide({"subject": "user:maria", "operation": "container.exec", "resource": {"collection": "/prod"}}).code == "missing_operation"
}

# false names no collection, and is not a label either.
test_collection_false_is_malformed if {
	decide({"subject": "user:maria", "operation": "container.view", "resource": {"collection": false}}).code == "malformed_request"
}

test_secrets_share_the_service_collection if {
	d := decide({"subject": "user:maria", "operation": "service.create", "resource": {"collection": "/prod/mobile"}, "secrets": ["/prod"]})
	d.code == "secret_collection"
	e := decide({"subject": "user:maria", "operation": "service.create", "resource": {"collection": "/prod"}, "secrets": ["/prod"]})
	e.code == "missing_secret_use"
	f := decide({"subject": "user:maria", "operation": "service.create", "resource": {"collection": "/prod/mobile"}, "secrets": ["/prod/mobile"]})
	f.allowed
	f.code == "granted"
}

test_schedulable if {
	authz.schedulable == ["/Shared"] with input as {"subject": "user:maria", "operation": "container.create", "resource": {"collection": "/prod"}}
		with data.grantd.state as with_derived(state)
}

test_schedulable_only_when_allowed if {
	authz.schedulable == [] with input as {"subject": "user:maria", "operation": "container.create", "options": ["privileged"], "resource": {"collection": "/prod"}}
		with data.grantd.state as with_derived(state)
}

# With no schedulable collection on the target's chain: the topmost of
# those the principal's subjects may schedule on, by path ("/prodx" is not
# under "/prod"). (Exact grants: they do not make the chain schedulable.)
test_topmost_schedulable if {
	sched := {
		"authenticated": {"/Shared": "both"},
		"team:acme/mobile": {"/prod/mobile": "all"},
		"org:acme": {"/prod": "all"},
		"user:maria": {"/prodx": "all"},
	}
	authz.schedulable == ["/Shared", "/prod", "/prodx"] with input as {"subject": "user:maria", "operation": "container.create", "resource": {"collection": "/prod"}}
		with data.grantd.state as with_derived(object.union(state, {"sched": sched}))
	root := {"org:acme": {"/": "all"}, "team:acme/mobile": {"/prod": "all"}}
	authz.schedulable == ["/"] with input as {"subject": "user:maria", "operation": "container.create", "resource": {"collection": "/prod"}}
		with data.grantd.state as with_derived(object.union(state, {"sched": root}))
}

# On the target's chain: the highest collection a subtree grant makes
# schedulable.
test_highest_schedulable_on_the_chain if {
	sched := {
		"authenticated": {"/Shared": "both"},
		"org:acme": {"/prod": "both"},
	}
	authz.schedulable == ["/prod"] with input as {"subject": "user:maria", "operation": "container.create", "resource": {"collection": "/prod/mobile"}}
		with data.grantd.state as with_derived(object.union(state, {"sched": sched}))
}

test_repositories if {
	decide({"subject": "user:maria", "operation": "repository.pull", "resource": {"repository": "web/app"}}).allowed
	not decide({"subject": "user:maria", "operation": "repository.push", "resource": {"repository": "web/app"}}).allowed
	decide({"subject": "anonymous", "operation": "repository.pull", "resource": {"repository": "web/pub"}}).code == "public"
	not decide({"subject": "anonymous", "operation": "repository.push", "resource": {"repository": "web/pub"}}).allowed
	decide({"subject": "user:owner", "operation": "repository.delete", "resource": {"repository": "web/app"}}).code == "owner"
	decide({"subject": "user:maria", "operation": "repository.delete", "resource": {"repository": "web/app"}}).code == "reserved"
	decide({"subject": "user:maria", "operation": "repository.pull", "resource": {"repository": "maria/new"}}).code == "unknown_repository"
	decide({"subject": "user:maria", "operation": "container.view", "resource": {"repository": "web/app"}}).code == "wrong_resource"
	decide({"subject": "user:maria", "operation": "repository.pull", "resource": {"collection": "/prod"}}).code == "wrong_resource"
}
