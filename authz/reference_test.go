package authz

import (
	"slices"
	"strings"

	"github.com/grantd/grantd/collections"
	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"
)

// referenceDecide is model.md's decision written as plainly as possible:
// no compiled form, no indexes, a scan of every grant. It exists only to
// be compared with the engine.
func referenceDecide(r *store.ReadTxn, req Request) bool {
	subject := req.Subject.String()
	kind, name, _ := strings.Cut(subject, ":")
	var active, admin bool
	var subjects []string
	var defaultCollection string
	switch {
	case subject == "anonymous":
		active, subjects = true, []string{"anonymous"}
	case kind == "user":
		u, _ := r.User(name)
		if u == nil {
			return false
		}
		active, admin, defaultCollection = u.Active, u.IsAdmin, u.DefaultCollection
		subjects = []string{subject, "authenticated"}
		teams, _ := r.TeamsOfUser(name)
		for _, t := range teams {
			subjects = append(subjects, "team:"+t.Org+"/"+t.Team)
		}
		orgs, _ := r.OrgsOfUser(name)
		for _, o := range orgs {
			subjects = append(subjects, "org:"+o.Org)
		}
	case kind == "serviceaccount":
		a, _ := r.ServiceAccount(name)
		if a == nil {
			return false
		}
		active, subjects = a.Active, []string{subject, "authenticated"}
	case kind == "k8s-serviceaccount":
		gs, _ := r.GrantsOfSubject(req.Subject)
		if len(gs) == 0 {
			return false
		}
		active, subjects = true, []string{subject}
	default:
		return false
	}
	if !active {
		return false
	}
	op, ok := roles.Lookup(req.Operation)
	if !ok {
		return false
	}
	for _, o := range req.Options {
		if !op.HasOption(o) {
			return false
		}
	}
	allGrants, _ := r.Grants("", 0)
	mine := func(g *store.Grant) bool { return slices.Contains(subjects, g.Subject.String()) }
	if req.Kubernetes {
		// Kubernetes operations, and container.create's options for a pod.
		if op.Object != roles.Kubernetes && req.Operation != "container.create" {
			return false
		}
		if admin {
			return true
		}
		for _, group := range req.Groups {
			teams, _ := r.TeamsOfKubernetesGroup(group)
			for _, t := range teams {
				subjects = append(subjects, "team:"+t.Org+"/"+t.Name)
			}
		}
		held, opts := false, []string{}
		for _, g := range allGrants {
			o := g.Object.String()
			if !mine(g) || o != "namespace:*" && (req.Namespace == "" || o != "namespace:"+req.Namespace) {
				continue
			}
			role, _ := r.Role(g.Role)
			for _, p := range role.Permissions {
				if p.Operation == req.Operation {
					held = true
					opts = append(opts, p.Options...)
				}
			}
		}
		for _, o := range req.Options {
			if !slices.Contains(opts, o) {
				return false
			}
		}
		return held
	}
	if op.Object == roles.Kubernetes {
		return false
	}
	if op.Object == roles.Swarm {
		if req.Repository != "" {
			return false
		}
		target := referenceTarget(req, op, defaultCollection)
		if target == "" {
			return false
		}
		if c, _ := r.Collection(target); c == nil {
			return false
		}
		if admin {
			return true
		}
		rolesAt := func(path string) []string {
			var out []string
			for _, g := range allGrants {
				p, ok := strings.CutPrefix(g.Object.String(), "collection:")
				if !ok || !mine(g) {
					continue
				}
				if p == path || g.Scope == store.ScopeSubtree && collections.IsWithin(path, p) {
					out = append(out, g.Role)
				}
			}
			return out
		}
		perm := func(roleIDs []string, operation string) (bool, []string) {
			held, opts := false, []string{}
			for _, id := range roleIDs {
				role, _ := r.Role(id)
				for _, p := range role.Permissions {
					if p.Operation == operation {
						held = true
						opts = append(opts, p.Options...)
					}
				}
			}
			return held, opts
		}
		held, opts := perm(rolesAt(target), req.Operation)
		if !held {
			return false
		}
		for _, o := range req.Options {
			if !slices.Contains(opts, o) {
				return false
			}
		}
		if (req.Operation == "service.create" || req.Operation == "service.update") && len(req.Secrets) > 0 {
			_, labelled := req.Labels[collections.AccessLabel]
			unlabeled := req.Collection == "" && !labelled
			for _, s := range req.Secrets {
				if unlabeled && s != "/" || !unlabeled && s != target {
					return false
				}
			}
			for _, s := range req.Secrets {
				if ok, _ := perm(rolesAt(s), "secret.use"); !ok {
					return false
				}
			}
		}
		return true
	}
	// Repository operations.
	if req.Repository == "" {
		return false
	}
	parts := strings.Split(req.Repository, "/")
	if len(parts) != 2 || parts[1] == "" {
		return false
	}
	ns := parts[0]
	repo, _ := r.Repository(ns, parts[1])
	if repo == nil && req.Operation != "repository.create" {
		return false
	}
	if admin {
		return true
	}
	if kind == "user" {
		if u, _ := r.User(ns); u != nil && ns == name {
			return true
		}
		if m, _ := r.OrgMember(ns, name); m != nil && m.IsAdmin {
			return true
		}
	}
	if op.Reserved {
		return false
	}
	if repo.Visibility == store.VisibilityPublic && (req.Operation == "repository.view" || req.Operation == "repository.pull") {
		return true
	}
	for _, g := range allGrants {
		if !mine(g) || g.Object.String() != "repository:"+req.Repository && g.Object.String() != "namespace:"+ns {
			continue
		}
		role, _ := r.Role(g.Role)
		for _, p := range role.Permissions {
			if p.Operation == req.Operation {
				return true
			}
		}
	}
	return false
}

// referenceTarget resolves the collection a swarm request acts on.
func referenceTarget(req Request, op roles.Operation, defaultCollection string) string {
	if req.Collection != "" {
		return req.Collection
	}
	v, labelled := req.Labels[collections.AccessLabel]
	switch {
	case labelled && strings.HasPrefix(v, "/"):
		return v
	case labelled && v != "":
		return "/Shared/Legacy/" + v
	case labelled:
		return ""
	case strings.HasSuffix(op.ID, ".create"):
		return defaultCollection
	}
	return "/"
}
