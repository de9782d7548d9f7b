package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/grantd/grantd/bench/peerkit"
	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/subjects"

	"github.com/grantd/grantd/authz"
	"github.com/grantd/grantd/dataset"
	"github.com/grantd/grantd/server"
	"github.com/grantd/grantd/store"
)

// installation is a generated dataset: its snapshot file (what grantd
// restores), the same state compiled by an in-process decision engine,
// and the same state flattened for the peers.
type installation struct {
	size     dataset.Size
	data     *dataset.Dataset
	snapshot string
	password string
	// generate, compile: how long building the state and compiling it took.
	generate, compile time.Duration
	engine            *authz.Engine
	queries           []dataset.Query
	peer              *peerkit.Data
	// st is the store the dataset was generated in, open: once follow is
	// set, the engine follows its writes (the cache-under-writes step).
	st     *store.Store
	follow atomic.Bool
}

// close closes the store.
func (in *installation) close() {
	if in.st != nil {
		_ = in.st.Close()
		in.st = nil
	}
}

// build generates the dataset of size into a store in dir (written
// through raft like any other writes, in the dataset's batches), writes
// its snapshot, draws nq questions, compiles the state with the decision
// engine and, for peers, flattens it for the peers.
func build(ctx context.Context, size dataset.Size, dir string, nq int, peers bool) (*installation, error) {
	in := &installation{size: size}
	start := time.Now()
	in.data = dataset.Generate(size, 1)
	in.queries = in.data.Queries(nq, 7)
	pw := make([]byte, 24)
	if _, err := rand.Read(pw); err != nil {
		return nil, err
	}
	in.password = base64.RawURLEncoding.EncodeToString(pw)
	cfg := store.DefaultConfig(filepath.Join(dir, "generate"))
	cfg.Logger = slog.New(slog.DiscardHandler)
	// The engine compiles the generated state whole (Rebuild, timed
	// below); later writes reach it through this observer.
	cfg.Observe = func(r *store.ReadTxn, changes []store.Change) {
		if in.follow.Load() {
			in.engine.Observe(r, changes)
		}
	}
	st, err := store.Open(cfg)
	if err != nil {
		return nil, err
	}
	in.st = st
	ok := false
	defer func() {
		if !ok {
			in.close()
		}
	}()
	if err := st.WaitReady(ctx); err != nil {
		return nil, err
	}
	if _, err := server.Bootstrap(ctx, st, in.password, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		return nil, err
	}
	for _, batch := range in.data.Batches {
		if _, err := st.Apply(ctx, store.Batch{Commands: batch}); err != nil {
			return nil, fmt.Errorf("load the dataset: %w", err)
		}
	}
	in.snapshot = filepath.Join(dir, size.Name+".snapshot.jsonl")
	f, err := os.Create(in.snapshot)
	if err != nil {
		return nil, err
	}
	if err := st.WriteSnapshot(f); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	in.generate = time.Since(start)

	start = time.Now()
	if in.engine, err = authz.New(slog.New(slog.DiscardHandler)); err != nil {
		return nil, err
	}
	if err := in.engine.Rebuild(ctx, st.Read()); err != nil {
		return nil, err
	}
	in.compile = time.Since(start)
	in.follow.Store(true)
	if peers {
		if in.peer, err = flatten(st.Read(), in.queries); err != nil {
			return nil, err
		}
	}
	ok = true
	return in, nil
}

// flatten reads the collection model out of the store for the peers,
// with the collection questions among queries; a third of those whose
// operation has options ask for one or two of them.
func flatten(r *store.ReadTxn, queries []dataset.Query) (*peerkit.Data, error) {
	p := &peerkit.Data{Roles: map[string]map[string][]string{}, Parents: map[string]string{}, Members: map[string][]string{}}
	rs, err := r.Roles()
	if err != nil {
		return nil, err
	}
	for _, role := range rs {
		// The peers answer collection questions: only Swarm operations
		// (the built-in roles' Kubernetes ones would only swell their models).
		ops := map[string][]string{}
		for _, perm := range role.Permissions {
			if op, ok := roles.Lookup(perm.Operation); ok && op.Object == roles.Swarm {
				ops[perm.Operation] = append([]string{}, perm.Options...)
			}
		}
		p.Roles[role.ID] = ops
	}
	cols, err := r.Collections("", 0)
	if err != nil {
		return nil, err
	}
	for _, c := range cols {
		p.Parents[c.Path] = c.Parent
	}
	grants, err := r.Grants("", 0)
	if err != nil {
		return nil, err
	}
	for _, g := range grants {
		if path, ok := g.Object.CollectionPath(); ok {
			p.Grants = append(p.Grants, peerkit.Grant{Subject: g.Subject.String(), Role: g.Role, Collection: path, Exact: g.Scope == store.ScopeExact})
		}
	}
	users, err := r.Users("", "", 0)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		if u.IsAdmin {
			p.Admins = append(p.Admins, subjects.OfUser(u.Name).String())
		}
		subs := []string{}
		teams, err := r.TeamsOfUser(u.Name)
		if err != nil {
			return nil, err
		}
		for _, t := range teams {
			subs = append(subs, subjects.OfTeam(t.Org, t.Team).String())
		}
		orgs, err := r.OrgsOfUser(u.Name)
		if err != nil {
			return nil, err
		}
		for _, o := range orgs {
			subs = append(subs, subjects.OfOrg(o.Org).String())
		}
		p.Members[subjects.OfUser(u.Name).String()] = subs
	}
	options := map[string][]string{}
	for _, op := range roles.Catalog() {
		options[op.ID] = op.Options
	}
	rng := mrand.New(mrand.NewPCG(3, 21))
	for _, q := range queries {
		if q.Collection == "" {
			continue
		}
		pq := peerkit.Query{Subject: q.Subject.String(), Operation: q.Operation, Collection: q.Collection, Options: q.Options}
		if opts := options[q.Operation]; len(pq.Options) == 0 && len(opts) > 0 && rng.IntN(3) == 0 {
			for range 1 + rng.IntN(2) {
				if o := opts[rng.IntN(len(opts))]; !slices.Contains(pq.Options, o) {
					pq.Options = append(pq.Options, o)
				}
			}
		}
		p.Queries = append(p.Queries, pq)
	}
	return p, nil
}
