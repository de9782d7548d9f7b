package dataset

import (
	"fmt"
	"math/rand/v2"

	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/subjects"
)

// The Kubernetes side of a dataset: every team holds Restricted Control in
// a Kubernetes namespace of its own, "<org>-<team>"; the questions are its
// members' and others' requests there, with the answer the model gives.

// KubernetesNamespace is the namespace of a team.
func KubernetesNamespace(org, team string) string { return org + "-" + team }

// KubernetesGrant is one grant of the Kubernetes side, as the API takes it.
type KubernetesGrant struct{ Subject, Role, Object string }

// KubernetesGrants lists one grant per team.
func (d *Dataset) KubernetesGrants() []KubernetesGrant {
	var out []KubernetesGrant
	for o := range d.Size.Orgs {
		for t := range d.Size.TeamsPerOrg {
			org, team := fmt.Sprintf("org%d", o), fmt.Sprintf("team%d", t)
			out = append(out, KubernetesGrant{Subject: subjects.OfTeam(org, team).String(), Role: roles.RestrictedControl,
				Object: subjects.NamespaceOf(KubernetesNamespace(org, team)).String()})
		}
	}
	return out
}

// KubernetesQuery is a request kube-apiserver would review, with the
// answer Restricted Control on the team namespaces gives.
type KubernetesQuery struct {
	User              string
	Group, Resource   string
	Subresource, Verb string
	Namespace         string
	Operation         string
	Allowed           bool
}

// KubernetesQueries draws n requests: half in a namespace of one of the
// user's teams, half in any team's; a mix of reads, writes, secrets and
// exec (which Restricted Control withholds).
func (d *Dataset) KubernetesQueries(n int, seed uint64) []KubernetesQuery {
	rng := rand.New(rand.NewPCG(seed, 0x6b8))
	rc, _ := roles.Builtin(roles.RestrictedControl)
	holds := map[string]bool{}
	for _, p := range rc.Permissions {
		holds[p.Operation] = true
	}
	requests := []struct{ group, resource, sub, verb string }{
		{"", "pods", "", "list"}, {"", "pods", "", "get"}, {"apps", "deployments", "", "create"},
		{"apps", "deployments", "scale", "patch"}, {"", "secrets", "", "get"}, {"", "pods", "exec", "create"},
		{"", "configmaps", "", "watch"}, {"batch", "jobs", "", "delete"},
	}
	out := make([]KubernetesQuery, n)
	for i := range out {
		user := d.Users[rng.IntN(len(d.Users))]
		held := d.subjects[user]
		var teams []subjects.Subject
		for _, s := range held {
			if s.Kind == subjects.Team {
				teams = append(teams, s)
			}
		}
		team := subjects.OfTeam(fmt.Sprintf("org%d", rng.IntN(d.Size.Orgs)), fmt.Sprintf("team%d", rng.IntN(d.Size.TeamsPerOrg)))
		if len(teams) > 0 && rng.IntN(2) == 0 {
			team = teams[rng.IntN(len(teams))]
		}
		r := requests[rng.IntN(len(requests))]
		q := KubernetesQuery{User: user, Group: r.group, Resource: r.resource, Subresource: r.sub, Verb: r.verb,
			Namespace: KubernetesNamespace(team.Name, team.Team),
			Operation: roles.KubernetesOperation(r.group, r.resource, r.sub, r.verb)}
		for _, s := range teams {
			if s == team && holds[q.Operation] {
				q.Allowed = true
			}
		}
		out[i] = q
	}
	return out
}
