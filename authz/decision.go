package authz

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/subjects"
)

// Request is one authorization question.
type Request struct {
	Subject   subjects.Subject
	Operation string
	// Exactly one of Collection, Labels (possibly empty) or Repository
	// names the resource; HasLabels tells an empty label set from none.
	Collection string
	Labels     map[string]string
	HasLabels  bool
	Repository string
	// Kubernetes marks a request about a Kubernetes namespace: Namespace
	// names it, and "" is the cluster scope (cluster-scoped resources, and
	// requests across all namespaces).
	Kubernetes bool
	Namespace  string
	// Groups are the Kubernetes groups kube-apiserver sent with the user:
	// the teams they map to (Team.KubernetesGroups) count as the subject's
	// in a Kubernetes request.
	Groups  []string
	Options []string
	Secrets []string
}

// Decision is the answer. Denials always carry a reason; any failure to
// decide is a denial.
type Decision struct {
	Allowed bool
	// Code is the machine-readable outcome (code.go).
	Code   Code
	Reason string
	// Collection is the collection the request acted on, when resolved.
	Collection string
	// Options and Secrets are the ones a denial is about.
	Options     []string
	Secrets     []string
	Schedulable []string
	Revision    uint64
}

// Input is the policy input for r, exactly as stock OPA receives it in an
// exported bundle's evaluation.
func (r Request) Input() *ast.Term {
	res := ast.NewObject()
	switch {
	case r.Kubernetes:
		res.Insert(keyNamespace, str(r.Namespace))
	case r.Repository != "":
		res.Insert(keyRepository, str(r.Repository))
	case r.Collection != "":
		res.Insert(keyCollection, str(r.Collection))
	case r.HasLabels || r.Labels != nil:
		labels := ast.NewObject()
		for k, v := range r.Labels {
			labels.Insert(str(k), str(v))
		}
		res.Insert(keyLabels, ast.NewTerm(labels))
	}
	in := ast.NewObject(
		ast.Item(keySubject, str(r.Subject.String())),
		ast.Item(keyOperation, operationTerm(r.Operation)),
		ast.Item(keyResource, ast.NewTerm(res)))
	if len(r.Options) > 0 {
		in.Insert(keyOptions, stringArray(r.Options))
	}
	if len(r.Secrets) > 0 {
		in.Insert(keySecrets, stringArray(r.Secrets))
	}
	if r.Kubernetes && len(r.Groups) > 0 {
		in.Insert(keyGroups, stringArray(r.Groups))
	}
	return ast.NewTerm(in)
}

// The keys of the input and of the decision document, made once: every
// decision builds the one and reads the other with them (a term made per
// use is an allocation each).
var (
	keySubject    = str("subject")
	keyOperation  = str("operation")
	keyResource   = str("resource")
	keyNamespace  = str("namespace")
	keyRepository = str("repository")
	keyCollection = str("collection")
	keyLabels     = str("labels")
	keyOptions    = str("options")
	keySecrets    = str("secrets")
	keyGroups     = str("groups")
	keyAllowed    = str("allowed")
	keyCode       = str("code")
)

// operationTerms are the catalog's operations as terms, made once: each
// decision names one in its input, and its roles are looked up with it.
var operationTerms = func() map[string]*ast.Term {
	ops := roles.Catalog()
	m := make(map[string]*ast.Term, len(ops))
	for _, o := range ops {
		m[o.ID] = str(o.ID)
	}
	return m
}()

// operationTerm is op as a term: the catalog's own for an operation in it.
func operationTerm(op string) *ast.Term {
	if t, ok := operationTerms[op]; ok {
		return t
	}
	return str(op)
}

func stringArray(items []string) *ast.Term {
	terms := make([]*ast.Term, len(items))
	for i, s := range items {
		terms[i] = str(s)
	}
	return ast.ArrayTerm(terms...)
}

// schedulingOps are the operations whose decision says where to schedule.
var schedulingOps = map[string]bool{"container.create": true, "service.create": true}

// Decide answers a request. It never returns an error: a failure to decide
// is a denial that says so.
func (e *Engine) Decide(ctx context.Context, r Request) Decision {
	return e.DecideWithGrants(ctx, r, time.Now(), false).Decision
}

// answer is a decision with where it came from: the snapshot it holds
// for (nil when it could not decide) and, when the cache holds it, the
// cache's entry under key.
type answer struct {
	snap  *snapshot
	entry *cached
	key   string
	// held, for an evaluated decision whose grants were asked for, is
	// what the evaluation found behind the first held entry it read.
	held *heldGrants
}

// decide answers r; withGrants asks an evaluation to keep what it finds
// behind the roles held (answer.held).
func (e *Engine) decide(ctx context.Context, r Request, withGrants bool) (Decision, answer) {
	if e.broken.Load() {
		return failed(errBroken), answer{}
	}
	var ck string
	var reads *readLog
	if e.cache != nil {
		cur := e.opa.cur.Load()
		ck = cacheKey(r)
		if d, entry := e.cache.entry(cur, ck); entry != nil {
			return d, answer{snap: cur, entry: entry, key: ck}
		}
		reads = &readLog{}
	}
	var held *heldGrants
	if withGrants {
		held = &heldGrants{}
	}
	d, snap, ok := e.evaluate(ctx, r, reads, held)
	a := answer{snap: snap, held: held}
	if e.cache != nil {
		a.key = ck
		if ok {
			a.entry = e.cache.put(snap, ck, d, reads)
		}
	}
	return d, a
}

// evaluate decides r by evaluating the policy, recording what it read in
// reads and the grants behind the roles held in held (each when set); ok
// is false for a failure to decide.
func (e *Engine) evaluate(ctx context.Context, r Request, reads *readLog, held *heldGrants) (d Decision, snap *snapshot, ok bool) {
	query, vars := "decide", []ast.Var{varDecision}
	if schedulingOps[r.Operation] {
		query, vars = "schedule", []ast.Var{varDecision, varSchedule}
	}
	out, snap, err := e.eval(ctx, query, r.Input(), reads, held, vars...)
	if err != nil {
		e.log.ErrorContext(ctx, "decision failed", "subject", r.Subject, "operation", r.Operation, "err", err)
		return failed(err), nil, false
	}
	d, err = decisionFrom(out[0])
	if err != nil {
		e.log.ErrorContext(ctx, "malformed decision", "err", err)
		return failed(err), nil, false
	}
	d.Revision = snap.rev
	if len(out) > 1 && out[1] != nil {
		d.Schedulable = stringsOf(out[1].Value)
	}
	d.Reason = reason(r, d)
	return d, snap, true
}

// failed is the fail-closed answer. The cause goes to the log, never to
// the caller; only the engine's own out-of-date state is named.
func failed(err error) Decision {
	reason := "denied: grantd could not decide; the server log has the cause"
	if errors.Is(err, errBroken) {
		reason = "denied: " + errBroken.Error()
	}
	return Decision{Code: CodeInternalError, Reason: reason}
}

func decisionFrom(t *ast.Term) (Decision, error) {
	o, ok := t.Value.(ast.Object)
	if !ok {
		return Decision{}, fmt.Errorf("decision is %T, not an object", t.Value)
	}
	var d Decision
	a := o.Get(keyAllowed)
	if a == nil {
		return Decision{}, fmt.Errorf("decision has no allowed")
	}
	allowed, ok := a.Value.(ast.Boolean)
	if !ok {
		return Decision{}, fmt.Errorf("decision has no boolean allowed")
	}
	d.Allowed = bool(allowed)
	d.Code = Code(stringOf(o.Get(keyCode)))
	d.Collection = stringOf(o.Get(keyCollection))
	if v := o.Get(keyOptions); v != nil {
		d.Options = stringsOf(v.Value)
	}
	if v := o.Get(keySecrets); v != nil {
		d.Secrets = stringsOf(v.Value)
	}
	return d, nil
}

func stringOf(t *ast.Term) string {
	if t == nil {
		return ""
	}
	s, _ := t.Value.(ast.String)
	return string(s)
}

// stringsOf is the strings of a set or an array, sorted; nil when there
// are none.
func stringsOf(v ast.Value) []string {
	var out []string
	add := func(t *ast.Term) {
		if s, ok := t.Value.(ast.String); ok {
			out = append(out, string(s))
		}
	}
	switch x := v.(type) {
	case ast.Set:
		out = make([]string, 0, x.Len())
		x.Foreach(add)
	case *ast.Array:
		out = make([]string, 0, x.Len())
		x.Foreach(add)
	}
	if len(out) == 0 {
		return nil
	}
	sort.Strings(out)
	return out
}

// reason turns a decision code into a sentence for people.
func reason(r Request, d Decision) string {
	list := func(xs []string) string { return strings.Join(xs, ", ") }
	switch d.Code {
	case CodeAdmin:
		return r.Subject.String() + " is a system admin"
	case CodeGranted:
		if r.Kubernetes {
			return fmt.Sprintf("%s holds %s in %s", r.Subject, r.Operation, kubeScope(r))
		}
		if d.Collection != "" {
			// The commonest answers are joined without fmt, whose
			// arguments and buffer cost three allocations more.
			return r.Subject.String() + " holds " + r.Operation + " on " + d.Collection
		}
		return fmt.Sprintf("%s holds %s on repository %s", r.Subject, r.Operation, r.Repository)
	case CodeOwner:
		return fmt.Sprintf("%s owns the namespace of repository %s", r.Subject, r.Repository)
	case CodePublic:
		return fmt.Sprintf("repository %s is public", r.Repository)
	case CodeMalformedRequest:
		return "malformed request: name a subject, an operation and exactly one resource"
	case CodeUnknownSubject:
		return fmt.Sprintf("subject %q is not a known user, service account or anonymous", r.Subject)
	case CodeInactiveSubject:
		return r.Subject.String() + " is inactive"
	case CodeUnknownOperation:
		return roles.UnknownOperation(r.Operation)
	case CodeUnknownOption:
		return fmt.Sprintf("operation %s has no option %s", r.Operation, list(d.Options))
	case CodeWrongResource:
		if r.Kubernetes {
			return fmt.Sprintf("operation %s does not apply to Kubernetes", r.Operation)
		}
		if op, _ := roles.Lookup(r.Operation); op.Object == roles.Kubernetes {
			return fmt.Sprintf("operation %s applies to Kubernetes requests only", r.Operation)
		}
		if r.Repository != "" {
			return fmt.Sprintf("operation %s does not apply to repositories", r.Operation)
		}
		return fmt.Sprintf("operation %s applies to repositories only", r.Operation)
	case CodeUnknownCollection:
		if d.Collection == "" {
			return fmt.Sprintf("the resource has no access label and %s has no default collection", r.Subject)
		}
		return fmt.Sprintf("collection %s does not exist", d.Collection)
	case CodeMissingOperation:
		if r.Kubernetes {
			return fmt.Sprintf("no grant gives %s %s in %s", r.Subject, r.Operation, kubeScope(r))
		}
		if d.Collection != "" {
			return "no grant gives " + r.Subject.String() + " " + r.Operation + " on " + d.Collection
		}
		return fmt.Sprintf("no grant gives %s %s on repository %s", r.Subject, r.Operation, r.Repository)
	case CodeMissingOptions:
		where := d.Collection
		if r.Kubernetes {
			where = kubeScope(r)
		}
		return fmt.Sprintf("%s holds %s on %s but not with %s", r.Subject, r.Operation, where, list(d.Options))
	case CodeSecretCollection:
		return fmt.Sprintf("secrets in %s are not in the service's collection %s", list(d.Secrets), d.Collection)
	case CodeMissingSecretUse:
		return fmt.Sprintf("%s lacks secret.use on %s", r.Subject, list(d.Secrets))
	case CodeMalformedRepository:
		return fmt.Sprintf("repository %q is not <namespace>/<name>", r.Repository)
	case CodeUnknownRepository:
		return fmt.Sprintf("repository %s does not exist", r.Repository)
	case CodeReserved:
		return fmt.Sprintf("%s is reserved to the namespace's owner, its org admins and system admins", r.Operation)
	}
	return "denied (" + string(d.Code) + ")"
}

// kubeScope names where a Kubernetes request acts.
func kubeScope(r Request) string {
	if r.Namespace == "" {
		return "the Kubernetes cluster scope (namespace:*)"
	}
	return "Kubernetes namespace " + r.Namespace
}
