package ldapsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/grantd/grantd/subjects"

	"github.com/grantd/grantd/store"
)

// Run states.
const (
	StateRunning   = "running"
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
)

// runTimeout bounds one run, whoever asked for it.
const runTimeout = 30 * time.Minute

// Actor is the audit actor of the changes a sync makes.
const Actor = "ldap-sync"

// Options say what a run covers and who asked for it.
type Options struct {
	// Force runs past the deactivation threshold.
	Force bool
	// Team, when set, limits the run to that team's memberships.
	Team *TeamKey
	// Org, when set, limits the run to that org's admins.
	Org string
	// Trigger says who or what started the run ("schedule", "user:admin").
	Trigger string
}

func (o Options) scoped() bool { return o.Team != nil || o.Org != "" }

// Scope names what a run covers: "all", "team:<org>/<team>" or "org:<org>".
func (o Options) Scope() string {
	switch {
	case o.Team != nil:
		return subjects.OfTeam(o.Team.Org, o.Team.Team).String()
	case o.Org != "":
		return subjects.OfOrg(o.Org).String()
	}
	return "all"
}

// covers reports whether a run with options o does what other asks.
func (o Options) covers(other Options) bool {
	return (o.Scope() == "all" || o.Scope() == other.Scope()) && (o.Force || !other.Force)
}

// Report is the record of one run.
type Report struct {
	ID        uint64    `json:"id"`
	State     string    `json:"state"`
	Scope     string    `json:"scope"`
	Trigger   string    `json:"trigger,omitempty"`
	Forced    bool      `json:"forced,omitempty"`
	StartedAt time.Time `json:"startedAt"`
	EndedAt   time.Time `json:"endedAt,omitzero"`
	Counts    Counts    `json:"counts"`
	// Changes is how many writes the run made (0 on a directory that did
	// not change).
	Changes  int      `json:"changes"`
	Errors   []string `json:"errors,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	Revision uint64   `json:"revision,omitempty"`
}

// Store is what a sync needs of the state: reads, and writes through raft.
type Store interface {
	Read() *store.ReadTxn
	Apply(ctx context.Context, cmd store.Command) (uint64, error)
}

// Syncer runs syncs, one at a time.
type Syncer struct {
	store Store
	log   *slog.Logger
	now   func() time.Time
	// observe is told about every finished run and how long it took with
	// its write (metrics).
	observe func(Report, time.Duration)

	mu      sync.Mutex
	current *Run
	lastID  uint64
	// active are the runs not ended yet: the current one and the one it
	// may be queued behind.
	active map[uint64]*Run

	// afterUsers, when set, runs between the user searches and the group
	// reads of a run (tests stop the directory there).
	afterUsers func()
}

// NewSyncer returns a syncer over st. observe, when set, sees every
// finished run with its duration, the write included.
func NewSyncer(st Store, log *slog.Logger, now func() time.Time, observe func(Report, time.Duration)) *Syncer {
	return &Syncer{store: st, log: log, now: now, observe: observe, active: map[uint64]*Run{}}
}

// Run is a sync run, running or ended.
type Run struct {
	opts Options
	done chan struct{}
	mu   sync.Mutex
	rep  Report
}

// Done is closed when the run has ended.
func (r *Run) Done() <-chan struct{} { return r.done }

// Report is the run's report so far.
func (r *Run) Report() Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := r.rep
	rep.Errors = append([]string(nil), rep.Errors...)
	rep.Warnings = append([]string(nil), rep.Warnings...)
	return rep
}

// Wait waits for the run to end, or for ctx.
func (r *Run) Wait(ctx context.Context) (Report, error) {
	select {
	case <-r.done:
		return r.Report(), nil
	case <-ctx.Done():
		return r.Report(), ctx.Err()
	}
}

// Start starts a run, or joins the latest one when it is still going and
// covers what opts asks. A run that does not cover it is queued behind it,
// so runs never overlap. The run goes on when the caller leaves.
func (s *Syncer) Start(opts Options) *Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.current
	if prev != nil && !prev.ended() && prev.opts.covers(opts) {
		return prev
	}
	if reps, err := s.store.Read().SyncReports(); err == nil && len(reps) > 0 && reps[0].ID > s.lastID {
		s.lastID = reps[0].ID
	}
	s.lastID++
	run := &Run{opts: opts, done: make(chan struct{}), rep: Report{ID: s.lastID, State: StateRunning,
		Scope: opts.Scope(), Trigger: opts.Trigger, Forced: opts.Force}}
	s.current = run
	s.active[run.rep.ID] = run
	go func() {
		if prev != nil {
			<-prev.done
		}
		s.execute(run)
		s.mu.Lock()
		delete(s.active, run.rep.ID)
		s.mu.Unlock()
	}()
	return run
}

// Running returns the run with this ID while it has not ended.
func (s *Syncer) Running(id uint64) *Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	if run := s.active[id]; run != nil && !run.ended() {
		return run
	}
	return nil
}

func (r *Run) ended() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// execute performs a run: read the directory, plan, check the threshold,
// write the changes and the report as one batch.
func (s *Syncer) execute(run *Run) {
	defer close(run.done)
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	run.mu.Lock()
	run.rep.StartedAt = s.now().UTC()
	run.mu.Unlock()

	p, errs := s.prepare(ctx, run.opts)
	rep := run.Report()
	rep.Errors = append(rep.Errors, errs...)
	var changes []store.Command
	if p != nil {
		rep.Counts, rep.Warnings, changes = p.counts, p.warnings, p.changes
		if over, percent := p.overThreshold(); over && !run.opts.Force {
			rep.Errors = append(rep.Errors, fmt.Sprintf("the run would deactivate %d of %d active LDAP users, "+
				"more than the allowed %d%%; nothing was written (run with force to apply it)",
				p.counts.Deactivated, p.ldapActive, percent))
			changes, rep.Counts = nil, Counts{SkippedInvalidNames: p.counts.SkippedInvalidNames}
		}
	}
	rep.Changes = len(changes)
	rep.State = StateSucceeded
	if len(rep.Errors) > 0 {
		rep.State = StateFailed
	}
	// EndedAt is when the run proposed its write: the report is part of
	// that write. The duration logged and exported includes the write.
	rep.EndedAt = s.now().UTC()
	rev, err := s.write(ctx, rep, changes)
	if err != nil && len(changes) > 0 {
		// The changes were refused as a whole: record that, and nothing else.
		rep.Errors = append(rep.Errors, "writing the changes failed, nothing was changed: "+err.Error())
		rep.State, rep.Changes, rep.Counts = StateFailed, 0, Counts{SkippedInvalidNames: rep.Counts.SkippedInvalidNames}
		rev, err = s.write(ctx, rep, nil)
	}
	if err != nil {
		rep.Errors = append(rep.Errors, "recording the report failed: "+err.Error())
		rep.State = StateFailed
	}
	rep.Revision = rev
	run.mu.Lock()
	run.rep = rep
	run.mu.Unlock()
	took := s.now().Sub(rep.StartedAt)
	s.log.Info("ldap sync", "id", rep.ID, "state", rep.State, "scope", rep.Scope, "trigger", rep.Trigger,
		"changes", rep.Changes, "errors", len(rep.Errors), "duration", took.String())
	if s.observe != nil {
		s.observe(rep, took)
	}
}

// prepare reads the configuration and the directory and plans the changes.
func (s *Syncer) prepare(ctx context.Context, opts Options) (*plan, []string) {
	r := s.store.Read()
	cfg, err := StoredConfig(r)
	if err != nil {
		return nil, []string{"reading the configuration: " + err.Error()}
	}
	if !cfg.Enabled {
		return nil, []string{"LDAP integration is not enabled"}
	}
	dir, err := s.read(ctx, cfg, opts, r)
	if err != nil {
		return nil, []string{err.Error()}
	}
	p, err := makePlan(cfg, opts, dir, r, s.now().UTC())
	if err != nil {
		return nil, append(dir.errors, "planning the changes: "+err.Error())
	}
	return p, dir.errors
}

// read asks the directory everything the run needs.
func (s *Syncer) read(ctx context.Context, cfg Config, opts Options, r *store.ReadTxn) (*directory, error) {
	rd := newReader(ctx, cfg)
	defer rd.close()
	dir := &directory{teams: map[TeamKey]map[string]bool{}, orgs: map[string]map[string]bool{}}
	rd.readUsers(dir)
	if s.afterUsers != nil {
		s.afterUsers()
	}
	if cfg.AdminSync.Enabled && !opts.scoped() {
		dir.admins = rd.selection(dir, "adminSync", cfg.AdminSync)
	}
	if opts.Org == "" {
		teams, err := r.SyncedTeams()
		if err != nil {
			return nil, err
		}
		for _, t := range teams {
			key := TeamKey{t.Org, t.Name}
			if opts.Team != nil && *opts.Team != key {
				continue
			}
			dir.teams[key] = rd.selection(dir, "team "+key.String(), FromStored(*t.LDAPSync))
		}
	}
	if opts.Team == nil {
		orgs, err := r.SyncedOrgs()
		if err != nil {
			return nil, err
		}
		for _, o := range orgs {
			if opts.Org != "" && opts.Org != o.Name {
				continue
			}
			dir.orgs[o.Name] = rd.selection(dir, "org "+o.Name+" admins", FromStored(*o.AdminSync))
		}
	}
	return dir, nil
}

// write applies the changes, each audited, and the report as one batch.
func (s *Syncer) write(ctx context.Context, rep Report, changes []store.Command) (uint64, error) {
	doc, err := json.Marshal(rep)
	if err != nil {
		return 0, err
	}
	cmds := make([]store.Command, 0, len(changes)+1)
	for _, c := range changes {
		cmds = append(cmds, store.Audited{Actor: Actor, Time: rep.EndedAt, Command: c})
	}
	cmds = append(cmds, store.RecordSyncReport{Report: store.SyncReport{ID: rep.ID, StartedAt: rep.StartedAt,
		EndedAt: rep.EndedAt, Report: doc}})
	return s.store.Apply(ctx, store.Batch{Commands: cmds})
}

// StoredConfig reads the configuration from the state, or the default.
func StoredConfig(r *store.ReadTxn) (Config, error) {
	c := DefaultConfig()
	row, err := r.LDAPConfig()
	if err != nil || row == nil {
		return c, err
	}
	err = json.Unmarshal(row.Config, &c)
	return c, err
}

// FromStored is the group sync of a stored team or org setting: group mode
// when it names a group, search mode otherwise.
func FromStored(g store.LDAPGroupSync) GroupSync {
	return GroupSync{Enabled: g.Enabled, SelectGroupMembers: g.GroupDN != "", GroupDN: g.GroupDN,
		GroupMemberAttr: g.GroupMemberAttr, SearchBaseDN: g.SearchBaseDN,
		SearchScopeSubtree: g.SearchScopeSubtree, SearchFilter: g.SearchFilter}
}

// ReportOf decodes a stored report.
func ReportOf(row *store.SyncReport) (Report, error) {
	var rep Report
	if err := json.Unmarshal(row.Report, &rep); err != nil {
		return Report{}, errors.New("stored sync report is unreadable")
	}
	rep.Revision = row.Revision
	return rep, nil
}
