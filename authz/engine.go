package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/grantd/grantd/policies"
	"github.com/grantd/grantd/store"
)

// Engine decides. It holds the compiled state in OPA's in-memory store and
// the fixed policy, compiled once; decisions run concurrently, each in its
// own read transaction, so none ever sees half of a write.
type Engine struct {
	log      *slog.Logger
	opa      *dataStore
	compiler *ast.Compiler
	queries  map[string]ast.Body
	// broken is set when the compiled state could not follow the store;
	// every decision is then a deny until a rebuild succeeds.
	broken atomic.Bool
	// refreshing is set while refreshChains rebuilds the chain index.
	refreshing atomic.Bool
	// writeMu serializes updates of the compiled state.
	writeMu sync.Mutex
	metrics *Metrics
	// cache, when set, answers repeated questions on the current snapshot.
	cache *decisionCache
}

// Query result variables.
var (
	varDecision = ast.Var("decision")
	varSchedule = ast.Var("schedulable")
	varGrants   = ast.Var("grants")
)

// New compiles the policy and returns an engine with an empty state; feed
// it with Observe (as a store observer) or Rebuild.
func New(log *slog.Logger) (*Engine, error) {
	c, queries, err := compilePolicy(policies.Modules())
	if err != nil {
		return nil, err
	}
	e := &Engine{log: log, compiler: c, queries: queries, metrics: newMetrics(), opa: &dataStore{}}
	e.opa.cur.Store(initialState())
	return e, nil
}

// compilePolicy compiles the policy's modules (source by file name) and
// the queries an engine evaluates, by name.
func compilePolicy(sources map[string]string) (*ast.Compiler, map[string]ast.Body, error) {
	mods := map[string]*ast.Module{}
	for name, src := range sources {
		m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, nil, fmt.Errorf("parse policy %s: %w", name, err)
		}
		mods[name] = m
	}
	c := ast.NewCompiler().WithEnablePrintStatements(false)
	c.Compile(mods)
	if c.Failed() {
		return nil, nil, fmt.Errorf("compile policy: %w", c.Errors)
	}
	queries := map[string]ast.Body{}
	for name, q := range map[string]string{
		"decide":   "decision = data.grantd.authz.decision",
		"schedule": "decision = data.grantd.authz.decision; schedulable = data.grantd.authz.schedulable",
		"explain":  "decision = data.grantd.authz.decision; grants = data.grantd.authz.target_grants",
	} {
		body, err := c.QueryCompiler().Compile(ast.MustParseBody(q))
		if err != nil {
			return nil, nil, fmt.Errorf("compile query %q: %w", q, err)
		}
		queries[name] = body
	}
	return c, queries, nil
}

// DefaultDecisionCache is the number of decisions an engine remembers
// unless told otherwise.
const DefaultDecisionCache = 100000

// SetDecisionCache makes the engine remember up to entries decisions
// (0: none); a write invalidates only those it can change (cache.go).
// Call it before the first decision.
func (e *Engine) SetDecisionCache(entries int) {
	if entries <= 0 {
		e.cache = nil
		return
	}
	e.cache = newDecisionCache(entries)
}

// Observe is a store.Observer: it brings the compiled state up to date
// with one committed write, before the write's revision is visible.
func (e *Engine) Observe(state *store.ReadTxn, changes []store.Change) {
	ctx := context.Background()
	var err error
	if changes == nil {
		err = e.Rebuild(ctx, state)
	} else {
		err = e.apply(ctx, state, changes)
	}
	if err != nil {
		e.log.Error("compiled policy state could not follow the store; rebuilding", "revision", state.Revision(), "err", err)
		if err := e.Rebuild(ctx, state); err != nil {
			e.broken.Store(true)
			e.metrics.failures.Inc()
			e.log.Error("rebuilding the compiled policy state failed; denying every decision", "err", err)
		}
	}
}

// Preview is a store.Previewer: it compiles the state a snapshot restore
// is installing from the snapshot's rows while the store builds its
// indexes, and installs it in Observe's place once the store has. Should
// that compile fail, the installed state is compiled as Observe would.
func (e *Engine) Preview(rows *store.ReadTxn) store.Observer {
	type result struct {
		state *snapshot
		err   error
	}
	done := make(chan result, 1)
	go func() {
		state, err := compiler{r: rows}.build(rows.Revision())
		done <- result{state, err}
	}()
	return func(state *store.ReadTxn, _ []store.Change) {
		r := <-done
		if r.err == nil && state.Revision() != rows.Revision() {
			r.err = fmt.Errorf("the snapshot's rows are at revision %d", rows.Revision())
		}
		if r.err != nil {
			e.log.Warn("the state compiled from the snapshot's rows cannot be installed; compiling it from the store", "revision", state.Revision(), "err", r.err)
			e.Observe(state, nil)
			return
		}
		e.install(r.state)
	}
}

// Healthy reports whether the compiled state follows the store.
func (e *Engine) Healthy() bool { return !e.broken.Load() }

// Rebuild compiles the whole state from r and swaps it in atomically.
func (e *Engine) Rebuild(_ context.Context, r Reader) error {
	state, err := compiler{r: r}.build(r.Revision())
	if err != nil {
		return err
	}
	e.install(state)
	return nil
}

// install swaps in a whole compiled state.
func (e *Engine) install(state *snapshot) {
	e.writeMu.Lock()
	e.opa.cur.Store(state)
	e.writeMu.Unlock()
	e.broken.Store(false)
	if len(state.stale) > 0 {
		e.refreshChains()
	}
}

// apply recomputes the entries a write changed and publishes them, with
// the new revision, as one new snapshot.
func (e *Engine) apply(_ context.Context, r Reader, changes []store.Change) error {
	keys := affected(changes)
	c := newCompiler(r)
	values := make(map[key]*ast.Term, len(keys))
	for k := range keys {
		v, err := c.entry(k)
		if err != nil {
			return err
		}
		values[k] = v
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	cur := e.opa.cur.Load()
	// An entry recomputed to what it was keeps its term: the cached
	// decisions that read it stay valid (decisionCache).
	for k, v := range values {
		if old, ok := cur.tables[k.table].Get(k.name); ok && v != nil && old.Equal(v) {
			delete(values, k)
		}
	}
	next := cur.with(values, r.Revision())
	e.opa.cur.Store(next)
	if len(next.stale) > 0 {
		e.refreshChains()
	}
	return nil
}

// eval runs one compiled query on input in a read transaction and returns
// the bindings of vars and the snapshot of the state it read; reads, when
// set, records what it read, and held the grants behind the first held
// entry it read.
func (e *Engine) eval(ctx context.Context, query string, input *ast.Term, reads *readLog, held *heldGrants, vars ...ast.Var) ([]*ast.Term, *snapshot, error) {
	txn := e.opa.begin()
	defer txn.release()
	txn.reads = reads
	txn.held = held
	snap := txn.snap
	out := make([]*ast.Term, len(vars))
	found := false
	err := topdown.NewQuery(e.queries[query]).WithCompiler(e.compiler).WithStore(e.opa).WithTransaction(txn).
		WithInput(input).WithStrictBuiltinErrors(true).
		WithBaseCache(&txn.seen).WithVirtualCache(&txn.rules).WithMetrics(metrics.NoOp()).
		Iter(ctx, func(qr topdown.QueryResult) error {
			for i, v := range vars {
				out[i] = qr[v]
			}
			found = true
			return nil
		})
	if err != nil {
		return nil, snap, err
	}
	if !found {
		return nil, snap, errors.New("the policy gave no decision")
	}
	return out, snap, nil
}

// Data returns the compiled state and its revision.
func (e *Engine) Data(context.Context) (ast.Value, uint64, error) {
	snap := e.opa.cur.Load()
	return snap.object(), snap.rev, nil
}
