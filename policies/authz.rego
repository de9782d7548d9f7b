# grantd's decision policy (Rego v1). Fixed: everything that varies is in
# data.grantd.state, which grantd compiles from its store (see authz/compile.go
# for the layout). Stock OPA evaluating data.grantd.authz.decision on an
# exported bundle gives exactly grantd's decisions.
#
# Entries are always addressed whole (data.grantd.state.<table>[key]), never
# through an alias of data.grantd.state: grantd serves each entry with one
# lookup, and a whole table only when a rule asks for one. Nor does a rule
# body test an entry keyed by input and nothing more
# (data.grantd.state.c[input.x] as a statement): OPA's rule index takes
# that for a membership it checks before the body, and reads data.grantd
# whole to do so. Test a field of the entry, or the entry under `not`.
#
# A decision is {"allowed": bool, "code": string, ...details}; grantd turns
# the code and details into the human reason. Sets in the state are objects
# {item: true}, so the state means the same after a JSON round trip.
package grantd.authz

# The acting principal: a user, a service account or anonymous. The
# decision's common path (its Swarm branches) reads its entry, and the
# operation's, where it tests them instead of through these rules:
# a rule costs each decision an evaluation and a cache entry of its own,
# a second read of the entry is served from the decision's read cache.
# Elsewhere the rules are used: the repository path reads
# both entries many times, and a rule evaluated once is then cheaper.
principal := data.grantd.state.p[input.subject]

op := data.grantd.state.ops[input.operation]

default decision := {"allowed": false, "code": "malformed_request"}

# Every branch tried and every rule evaluated is a step each decision
# pays for, so the common question (an active principal, a known
# operation, no options, no secrets) passes as few as possible: one branch
# tests the principal (unknown or inactive are told apart only for a
# denial), a branch that reports offending options tests for one
# (some ... not ...) rather than counting the set it reports, and the
# secrets' checks sit behind one branch, so the sets are built only for
# the answers that carry them. A branch that first names an input field
# the question may lack (input.options, count(input.secrets)) is passed
# over by OPA's rule index without being tried when the field is absent.

decision := subject_problem if {
	not data.grantd.state.p[input.subject].active
} else := operation_decision if {
	# One test for an unknown operation and the two kinds that are not
	# Swarm's: a Swarm question, the commonest, passes it in one read of
	# the operation's entry. From here on the operation is a Swarm one,
	# and its branches are the decision's own, not a rule's: a rule
	# costs each decision an evaluation of its own.
	not data.grantd.state.ops[input.operation].kind == "swarm"
} else := option_problem if {
	input.options
	option_problem
} else := kube_decision if {
	is_string(input.resource.namespace) # kubernetes_request, without a rule's evaluation
} else := {"allowed": false, "code": "wrong_resource"} if {
	input.resource.repository
} else := {"allowed": false, "code": "malformed_request"} if {
	# Neither a collection nor labels: false is the one value that target
	# would pass over for the labels, and the branches below would not.
	input.resource.collection == false
} else := {"allowed": false, "code": "unknown_collection", "collection": input.resource.collection} if {
	# A question that names its collection, the commonest, is answered by
	# these six branches without target, whose evaluation would cost it a
	# rule's. They say what the six after them say with target, which is
	# input.resource.collection when that is set. When it is not, each of
	# them is undefined: a value that names an undefined field is. The
	# secrets' branch, whose value does not name it, tests it first, as do
	# the last (an else between two others needs a body) and the admin
	# branch (not to read the principal's entry for nothing).
	not data.grantd.state.c[input.resource.collection]
} else := {"allowed": true, "code": "admin", "collection": input.resource.collection} if {
	input.resource.collection
	data.grantd.state.p[input.subject].admin
} else := {"allowed": false, "code": "missing_operation", "collection": input.resource.collection} if {
	not data.grantd.state.holds[input.subject][input.resource.collection][input.operation]
} else := {"allowed": false, "code": "missing_options", "collection": input.resource.collection, "options": missing_options} if {
	input.options
	some o in input.options
	not o in granted_options
} else := secrets_denial if {
	input.resource.collection
	count(input.secrets) > 0
	uses_secrets
	secrets_denial
} else := {"allowed": true, "code": "granted", "collection": input.resource.collection} if {
	input.resource.collection
} else := {"allowed": false, "code": "unknown_collection", "collection": target} if {
	not data.grantd.state.c[target]
} else := {"allowed": true, "code": "admin", "collection": target} if {
	data.grantd.state.p[input.subject].admin
} else := {"allowed": false, "code": "missing_operation", "collection": target} if {
	not data.grantd.state.holds[input.subject][target][input.operation]
} else := {"allowed": false, "code": "missing_options", "collection": target, "options": missing_options} if {
	input.options
	some o in input.options
	not o in granted_options
} else := secrets_denial if {
	count(input.secrets) > 0
	uses_secrets
	secrets_denial
} else := {"allowed": true, "code": "granted", "collection": target}

# A question about an operation that is unknown or not a Swarm one, in
# the order of the decision's own branches for a Swarm operation.
operation_decision := {"allowed": false, "code": "unknown_operation"} if {
	not data.grantd.state.ops[input.operation]
} else := option_problem if {
	input.options
	option_problem
} else := kube_decision if {
	is_string(input.resource.namespace)
} else := {"allowed": false, "code": "wrong_resource"} if {
	# A Kubernetes operation is asked about the wrong resource when the
	# question is not a Kubernetes request.
	op.kind == "kubernetes"
} else := repo_decision

# The options of the question that its operation does not have; undefined
# when it has them all.
option_problem := {"allowed": false, "code": "unknown_option", "options": bad_options} if {
	some o in input.options
	not op.options[o]
}

# A Kubernetes request names a namespace ("" for the cluster scope). A rule,
# for the explanations' `not kubernetes_request`: OPA finds `not
# is_string(x)` undefined, not true, when x is.
kubernetes_request if is_string(input.resource.namespace)

# A principal that is not active is unknown or deactivated: one branch of
# the decision tests both, and only a denied one tells them apart.
subject_problem := {"allowed": false, "code": "inactive_subject"} if {
	principal
} else := {"allowed": false, "code": "unknown_subject"}

bad_options := {o | some o in input.options; not op.options[o]}

#
# Swarm resources: collections.
#

# Undefined when the secrets a service uses are fine.
secrets_denial := {"allowed": false, "code": "secret_collection", "collection": target, "secrets": foreign_secrets} if {
	count(foreign_secrets) > 0
} else := {"allowed": false, "code": "missing_secret_use", "collection": target, "secrets": unusable_secrets} if {
	count(unusable_secrets) > 0
}

access_label := "com.docker.ucp.access.label"

# target is the collection the request acts on.
target := input.resource.collection if {
	input.resource.collection
} else := input.resource.labels[access_label] if {
	startswith(input.resource.labels[access_label], "/")
} else := concat("", ["/Shared/Legacy/", input.resource.labels[access_label]]) if {
	input.resource.labels[access_label] != ""
} else := principal.default if {
	not input.resource.labels[access_label]
	op.create
} else := "/" if {
	not input.resource.labels[access_label]
	not op.create
} else := ""

# Roles held at a collection: subtree grants on it and its ancestors, exact
# grants on it alone, for any of the principal's subjects. The state's
# held[principal][path] is exactly those roles, a set {role: true}
# (derived from at[path], which merges the grants by subject), and
# holds[principal][path][operation] the options those roles grant with
# an operation (derived from held and roles): whether the principal holds
# the operation at the target is one lookup, undefined when it does not.
# (The decision reads it in place rather than through a rule: a rule
# costs every decision an evaluation of its own.)
granted_options := {o | some o, _ in data.grantd.state.holds[input.subject][target][input.operation]}

missing_options := {o | some o in input.options} - granted_options

# A service and the secrets it uses share a collection, unless the service
# and all its secrets are unlabeled (their secrets then sit in "/").
uses_secrets if {
	count(input.secrets) > 0
	input.operation in {"service.create", "service.update"}
}

unlabeled_service if {
	not input.resource.collection
	not input.resource.labels[access_label]
}

foreign_secrets := {s |
	uses_secrets
	not unlabeled_service
	some s in input.secrets
	s != target
} | {s |
	uses_secrets
	unlabeled_service
	some s in input.secrets
	s != "/"
}

unusable_secrets := {s |
	uses_secrets
	some s in input.secrets
	not can_use_secret(s)
}

can_use_secret(path) if data.grantd.state.holds[input.subject][path]["secret.use"]

# Where a created container or service may be scheduled: walking up from the
# target, the highest collection on which the principal holds node.schedule;
# failing that, the top-most collections where it holds node.schedule at all.
#
# A subtree grant holding node.schedule on an ancestor makes that ancestor
# schedulable itself, so the highest schedulable collection is the highest
# one of the chain with such a grant (or an exact one) of its own.
#
# Only an allowed creation has a place to schedule: a denied one is not
# created, and its answer carries no collections (nor costs their search).
# The test is made once, in the one body of schedulable (a denial stops
# at its first expression), and the search is a rule of its own: a rule
# tested in each branch of the search costs a step of the evaluator each
# time, cached or not, about an eighth of a denied creation's decision.
default schedulable := []

schedulable := place_to_schedule if {
	decision.allowed
	input.operation in {"container.create", "service.create"}
}

place_to_schedule := [highest] if {
	highest := data.grantd.state.hs[input.subject][target]
} else := [target] if {
	data.grantd.state.holds[input.subject][target]["node.schedule"]
} else := topmost if {
	topmost := data.grantd.state.pt[input.subject]
}

# The derived hs is the highest collection of the target's chain among
# the topmost collections of the principal's subjects' subtree grants that
# hold node.schedule (their sched), in one read. Failing that, an exact
# grant at the target itself makes it schedulable (the target is the
# lowest of its chain, so it is the highest only when nothing above it
# is): with no subtree grant holding node.schedule anywhere on the chain
# (hs would have found the topmost one), the roles held at the target
# hold it only through an exact grant there, so holds answers in one read
# what a walk of the target's exact grants would. Failing both, the
# derived pt is the topmost of all their collections.

#
# Registry repositories.
#

repo_decision := {"allowed": false, "code": "wrong_resource"} if {
	not input.resource.repository
} else := {"allowed": false, "code": "malformed_repository"} if {
	not repo_namespace
} else := {"allowed": false, "code": "unknown_repository"} if {
	not repo
	input.operation != "repository.create"
} else := {"allowed": true, "code": "admin"} if {
	principal.admin
} else := {"allowed": true, "code": "owner"} if {
	owns_namespace
} else := {"allowed": false, "code": "reserved"} if {
	op.reserved
} else := {"allowed": true, "code": "public"} if {
	repo.public
	input.operation in {"repository.view", "repository.pull"}
} else := {"allowed": true, "code": "granted"} if {
	some r in repo_roles
	data.grantd.state.roles[r][input.operation]
} else := {"allowed": false, "code": "missing_operation"}

repo := data.grantd.state.repos[input.resource.repository]

repo_namespace := ns if {
	parts := split(input.resource.repository, "/")
	count(parts) == 2
	ns := parts[0]
	parts[1] != ""
}

# Users own their namespace; org admins own their org's. Owners hold every
# repository operation there, creation and deletion included. (A user's
# own namespace is named first: most questions are not about it, and the
# comparison fails them before a read of the namespace's entry.)
owns_namespace if {
	repo_namespace == principal.name
	principal.kind == "user"
	data.grantd.state.ns[repo_namespace].kind == "user"
}

owns_namespace if {
	principal.kind == "user"
	data.grantd.state.ns[repo_namespace].admins[principal.name]
}

# The roles the principal's subjects hold through grants on the
# repository and on its namespace. The subjects of each entry of rg are
# looked up in the principal's set: an entry has a subject per grant on
# its object, usually a few teams, where object.filter would copy the
# principal's whole set for each of the two.
repo_roles := {role |
	some key in [concat("", ["repository:", input.resource.repository]), concat("", ["namespace:", repo_namespace])]
	some s, roles in data.grantd.state.rg[key]
	principal.s[s]
	some role, _ in roles
}

#
# Kubernetes: a request in one namespace (input.resource.namespace), or at
# the cluster scope (""). Grants on namespace:<name> reach that namespace,
# grants on namespace:* every namespace and the cluster scope. Besides the
# Kubernetes operations, container.create is asked here with the options a
# pod wants (admission), so that its options mean the same as for Swarm.
#

kube_decision := {"allowed": false, "code": "wrong_resource"} if {
	op.kind != "kubernetes"
	input.operation != "container.create"
} else := {"allowed": true, "code": "admin"} if {
	principal.admin
} else := {"allowed": false, "code": "missing_operation"} if {
	not kube_holds_operation
} else := {"allowed": false, "code": "missing_options", "options": kube_missing_options} if {
	some o in input.options
	not o in kube_granted_options
} else := {"allowed": true, "code": "granted"}

kube_objects := ["namespace:*"] if {
	input.resource.namespace == ""
} else := ["namespace:*", concat("", ["namespace:", input.resource.namespace])]

# The principal's subjects, and the teams its Kubernetes groups map to.
kube_subjects := object.union(principal.s, {team: true |
	some g in input.groups
	some team, _ in data.grantd.state.kg[g]
})

kube_roles := {role |
	some key in kube_objects
	some _, roles in object.filter(data.grantd.state.rg[key], kube_subjects)
	some role, _ in roles
}

kube_holds_operation if {
	some r in kube_roles
	data.grantd.state.roles[r][input.operation]
}

kube_granted_options := {o | some r in kube_roles; some o, _ in data.grantd.state.roles[r][input.operation]}

kube_missing_options := {o | some o in input.options} - kube_granted_options

#
# Explanations and audit: every grant that applies to the principal at the
# target, whatever its role holds.
#

target_grants contains {"grant": id, "subject": s, "role": role, "object": concat("", ["collection:", a]), "scope": "subtree"} if {
	op.kind == "swarm"
	not kubernetes_request
	some a in data.grantd.state.c[target]
	some s, roles in object.filter(data.grantd.state.gs[a], principal.s)
	some role, id in roles
}

target_grants contains {"grant": id, "subject": s, "role": role, "object": concat("", ["collection:", target]), "scope": "exact"} if {
	op.kind == "swarm"
	not kubernetes_request
	some s, roles in object.filter(data.grantd.state.ge[target], principal.s)
	some role, id in roles
}

target_grants contains {"grant": id, "subject": s, "role": role, "object": key, "scope": "subtree"} if {
	op.kind == "repository"
	some key in [concat("", ["repository:", input.resource.repository]), concat("", ["namespace:", repo_namespace])]
	some s, roles in object.filter(data.grantd.state.rg[key], principal.s)
	some role, id in roles
}

target_grants contains {"grant": id, "subject": s, "role": role, "object": key, "scope": "subtree"} if {
	is_string(input.resource.namespace)
	some key in kube_objects
	some s, roles in object.filter(data.grantd.state.rg[key], kube_subjects)
	some role, id in roles
}
