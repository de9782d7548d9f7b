package server

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/grantd/grantd/rights"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grantd/grantd/ldapsync"
	"github.com/grantd/grantd/store"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

// ldapService serves the directory configuration, test logins, sync runs
// and their reports, and the team and org sync settings.
type ldapService struct {
	v1.UnimplementedLDAPServiceServer
	*writer
	*asker
	syncer *ldapsync.Syncer
}

func (s *ldapService) GetLDAPConfig(context.Context, *v1.GetLDAPConfigRequest) (*v1.LDAPConfig, error) {
	c, err := ldapsync.StoredConfig(s.store.Read())
	if err != nil {
		return nil, err
	}
	return ldapConfigPB(c), nil
}

// UpdateLDAPConfig replaces the configuration after validating it whole.
// Reader passwords are write-only: a server given without one keeps the
// password stored for the same URL.
func (s *ldapService) UpdateLDAPConfig(ctx context.Context, req *v1.UpdateLDAPConfigRequest) (*v1.UpdateLDAPConfigResponse, error) {
	if req.GetConfig() == nil {
		return nil, invalid("config is required")
	}
	c, err := s.candidate(req.GetConfig())
	if err != nil {
		return nil, err
	}
	doc, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	rev, err := s.apply(ctx, store.UpdateLDAPConfig{Config: doc})
	if err != nil {
		return nil, err
	}
	return &v1.UpdateLDAPConfigResponse{Config: ldapConfigPB(c), Revision: rev}, nil
}

// candidate is a configuration from the API, with the stored reader
// passwords filled in where it leaves them out, validated as a whole.
func (s *ldapService) candidate(in *v1.LDAPConfig) (ldapsync.Config, error) {
	current, err := ldapsync.StoredConfig(s.store.Read())
	if err != nil {
		return ldapsync.Config{}, err
	}
	c := ldapConfigFromPB(in)
	kept := map[string]string{}
	for _, srv := range current.Servers {
		kept[srv.URL] = srv.ReaderPassword
	}
	for i := range c.Servers {
		if c.Servers[i].ReaderPassword == "" {
			c.Servers[i].ReaderPassword = kept[c.Servers[i].URL]
		}
	}
	if err := c.Validate(); err != nil {
		return ldapsync.Config{}, invalid("%v", err)
	}
	return c, nil
}

// TestLDAPLogin finds and binds a user with a candidate configuration (or
// the stored one) and reports what it found, creating nothing. Failures
// are part of the answer, not errors of the call.
func (s *ldapService) TestLDAPLogin(ctx context.Context, req *v1.TestLDAPLoginRequest) (*v1.TestLDAPLoginResponse, error) {
	var c ldapsync.Config
	var err error
	if req.GetConfig() == nil {
		c, err = ldapsync.StoredConfig(s.store.Read())
	} else {
		c, err = s.candidate(req.GetConfig())
	}
	if err != nil {
		return nil, err
	}
	if len(c.Servers) == 0 || len(c.UserSearchConfigs) == 0 {
		return nil, invalid("the configuration needs a server and a user search config")
	}
	found, err := c.Authenticate(ctx, req.GetUsername(), req.GetPassword())
	if err != nil {
		return &v1.TestLDAPLoginResponse{Ok: false, Error: err.Error()}, nil
	}
	return &v1.TestLDAPLoginResponse{Ok: true, Server: found.Server, SearchConfigIndex: int32(found.SearchIndex),
		Dn: found.DN, Username: found.Username, FullName: found.FullName}, nil
}

// StartLDAPSync starts a run (or joins the one running) and answers at
// once, or when it has ended with wait.
func (s *ldapService) StartLDAPSync(ctx context.Context, req *v1.StartLDAPSyncRequest) (*v1.LDAPSyncRun, error) {
	run := s.syncer.Start(ldapsync.Options{Force: req.GetForce(), Trigger: principalFrom(ctx).Subject().String()})
	if !req.GetWait() {
		return syncRunPB(run.Report()), nil
	}
	rep, err := run.Wait(ctx)
	if err != nil {
		return nil, status.FromContextError(err).Err()
	}
	return syncRunPB(rep), nil
}

func (s *ldapService) GetLDAPSync(_ context.Context, req *v1.GetLDAPSyncRequest) (*v1.LDAPSyncRun, error) {
	if run := s.syncer.Running(req.GetId()); run != nil {
		return syncRunPB(run.Report()), nil
	}
	row, err := s.store.Read().SyncReport(req.GetId())
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, notFound("sync run %d", req.GetId())
	}
	rep, err := ldapsync.ReportOf(row)
	if err != nil {
		return nil, err
	}
	return syncRunPB(rep), nil
}

func (s *ldapService) ListLDAPSyncs(_ context.Context, req *v1.ListLDAPSyncsRequest) (*v1.ListLDAPSyncsResponse, error) {
	limit := int(req.GetLimit())
	if limit <= 0 || limit > store.SyncReportsKept {
		limit = store.SyncReportsKept
	}
	rows, err := s.store.Read().SyncReports()
	if err != nil {
		return nil, err
	}
	out := &v1.ListLDAPSyncsResponse{}
	for _, row := range rows[:min(limit, len(rows))] {
		rep, err := ldapsync.ReportOf(row)
		if err != nil {
			return nil, err
		}
		out.Runs = append(out.Runs, syncRunPB(rep))
	}
	return out, nil
}

func (s *ldapService) GetTeamLDAPSync(ctx context.Context, req *v1.GetTeamLDAPSyncRequest) (*v1.LDAPGroupSync, error) {
	if err := s.requireTeamAdmin(ctx, req.GetOrg(), req.GetTeam()); err != nil {
		return nil, err
	}
	t, err := s.store.Read().Team(req.GetOrg(), req.GetTeam())
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, notFound("team %s/%s", req.GetOrg(), req.GetTeam())
	}
	return groupSyncPB(t.LDAPSync), nil
}

// UpdateTeamLDAPSync sets a team's sync (team admins may) and, with
// syncNow, runs a sync of that team's members right away. A team admin
// may not bring people into the org by hand, so neither may their sync:
// a setting saved by a team admin who is not an org or system admin adds
// only existing org members (docs/decisions.md).
func (s *ldapService) UpdateTeamLDAPSync(ctx context.Context, req *v1.UpdateTeamLDAPSyncRequest) (*v1.UpdateTeamLDAPSyncResponse, error) {
	if err := s.requireTeamAdmin(ctx, req.GetOrg(), req.GetTeam()); err != nil {
		return nil, err
	}
	g, err := groupSyncFromPB(req.GetSync())
	if err != nil {
		return nil, err
	}
	mayAdd, err := rights.TeamSyncMayAddNonMembers(s.store.Read(), principalFrom(ctx), req.GetOrg())
	if err != nil {
		return nil, err
	}
	g.OrgMembersOnly = !mayAdd
	rev, err := s.apply(ctx, store.UpdateTeam{Org: req.GetOrg(), Name: req.GetTeam(), LDAPSync: &g})
	if err != nil {
		return nil, err
	}
	if req.GetSyncNow() && g.Enabled {
		key := ldapsync.TeamKey{Org: req.GetOrg(), Team: req.GetTeam()}
		if rev, err = s.syncNow(ctx, ldapsync.Options{Team: &key, Trigger: principalFrom(ctx).Subject().String()}); err != nil {
			return nil, err
		}
	}
	return &v1.UpdateTeamLDAPSyncResponse{Sync: groupSyncPB(&g), Revision: rev}, nil
}

func (s *ldapService) GetOrgAdminSync(ctx context.Context, req *v1.GetOrgAdminSyncRequest) (*v1.LDAPGroupSync, error) {
	if err := s.requireOrgAdmin(ctx, req.GetOrg()); err != nil {
		return nil, err
	}
	o, err := s.store.Read().Org(req.GetOrg())
	if err != nil {
		return nil, err
	}
	if o == nil {
		return nil, notFound("org %q", req.GetOrg())
	}
	return groupSyncPB(o.AdminSync), nil
}

// UpdateOrgAdminSync sets an org's admin sync (org admins may) and, with
// syncNow, runs it right away.
func (s *ldapService) UpdateOrgAdminSync(ctx context.Context, req *v1.UpdateOrgAdminSyncRequest) (*v1.UpdateOrgAdminSyncResponse, error) {
	if err := s.requireOrgAdmin(ctx, req.GetOrg()); err != nil {
		return nil, err
	}
	g, err := groupSyncFromPB(req.GetSync())
	if err != nil {
		return nil, err
	}
	rev, err := s.apply(ctx, store.UpdateOrg{Name: req.GetOrg(), AdminSync: &g})
	if err != nil {
		return nil, err
	}
	if req.GetSyncNow() && g.Enabled {
		if rev, err = s.syncNow(ctx, ldapsync.Options{Org: req.GetOrg(), Trigger: principalFrom(ctx).Subject().String()}); err != nil {
			return nil, err
		}
	}
	return &v1.UpdateOrgAdminSyncResponse{Sync: groupSyncPB(&g), Revision: rev}, nil
}

// syncNow runs a scoped sync and waits for it; a run that fails is an
// error of the call, with the run's errors.
func (s *ldapService) syncNow(ctx context.Context, opts ldapsync.Options) (uint64, error) {
	rep, err := s.syncer.Start(opts).Wait(ctx)
	if err != nil {
		return 0, status.FromContextError(err).Err()
	}
	if rep.State != ldapsync.StateSucceeded {
		return 0, status.Errorf(codes.Unavailable, "the setting was saved but its sync run %d failed: %s",
			rep.ID, strings.Join(rep.Errors, "; "))
	}
	return rep.Revision, nil
}

func groupSyncPB(g *store.LDAPGroupSync) *v1.LDAPGroupSync {
	if g == nil {
		return &v1.LDAPGroupSync{}
	}
	return &v1.LDAPGroupSync{Enabled: g.Enabled, GroupDn: g.GroupDN, GroupMemberAttr: g.GroupMemberAttr,
		SearchBaseDn: g.SearchBaseDN, SearchScopeSubtree: g.SearchScopeSubtree, SearchFilter: g.SearchFilter,
		OrgMembersOnly: g.OrgMembersOnly}
}

// groupSyncFromPB validates a team or org sync setting: group mode when it
// names a group (member attribute default "member"), search mode otherwise.
func groupSyncFromPB(in *v1.LDAPGroupSync) (store.LDAPGroupSync, error) {
	if in == nil {
		return store.LDAPGroupSync{}, invalid("sync is required")
	}
	g := store.LDAPGroupSync{Enabled: in.GetEnabled(), GroupDN: in.GetGroupDn(), GroupMemberAttr: in.GetGroupMemberAttr(),
		SearchBaseDN: in.GetSearchBaseDn(), SearchScopeSubtree: in.GetSearchScopeSubtree(), SearchFilter: in.GetSearchFilter()}
	if g.GroupDN != "" && g.GroupMemberAttr == "" {
		g.GroupMemberAttr = "member"
	}
	if err := ldapsync.FromStored(g).Validate(); err != nil {
		return store.LDAPGroupSync{}, invalid("%v", err)
	}
	return g, nil
}

func syncRunPB(r ldapsync.Report) *v1.LDAPSyncRun {
	c := r.Counts
	out := &v1.LDAPSyncRun{Id: r.ID, State: r.State, StartedAt: tsOrEmpty(r.StartedAt), EndedAt: tsOrEmpty(r.EndedAt),
		Errors: r.Errors, Warnings: r.Warnings, Revision: r.Revision, Scope: r.Scope, Trigger: r.Trigger,
		Forced: r.Forced, Changes: int32(r.Changes),
		Counts: &v1.LDAPSyncCounts{Created: int32(c.Created), Updated: int32(c.Updated), Deactivated: int32(c.Deactivated),
			Reactivated: int32(c.Reactivated), AdminsAdded: int32(c.AdminsAdded), AdminsRemoved: int32(c.AdminsRemoved),
			OrgAdminsAdded: int32(c.OrgAdminsAdded), OrgAdminsRemoved: int32(c.OrgAdminsRemoved),
			MembershipsAdded: int32(c.MembershipsAdded), MembershipsRemoved: int32(c.MembershipsRemoved),
			SkippedInvalidNames: int32(c.SkippedInvalidNames), SkippedNotOrgMembers: int32(c.SkippedNotOrgMembers)}}
	return out
}

func tsOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// ldapConfigPB is the API form: reader passwords are never returned, only
// whether one is set.
func ldapConfigPB(c ldapsync.Config) *v1.LDAPConfig {
	out := &v1.LDAPConfig{Enabled: c.Enabled, JitUserProvisioning: c.JITUserProvisioning,
		SyncIntervalHours: int32(c.SyncIntervalHours), MaxDeactivationPercent: int32(c.MaxDeactivationPercent),
		AdminSync: &v1.LDAPAdminSync{Enabled: c.AdminSync.Enabled, SelectGroupMembers: c.AdminSync.SelectGroupMembers,
			GroupDn: c.AdminSync.GroupDN, GroupMemberAttr: c.AdminSync.GroupMemberAttr, SearchBaseDn: c.AdminSync.SearchBaseDN,
			SearchScopeSubtree: c.AdminSync.SearchScopeSubtree, SearchFilter: c.AdminSync.SearchFilter}}
	for _, s := range c.Servers {
		out.Servers = append(out.Servers, &v1.LDAPServer{Url: s.URL, Domain: s.Domain, ReaderDn: s.ReaderDN,
			StartTls: s.StartTLS, SkipTlsVerify: s.SkipTLSVerify, RootCas: s.RootCAs,
			NoSimplePagination: s.NoSimplePagination, ReaderPasswordSet: s.ReaderPassword != ""})
	}
	for _, sc := range c.UserSearchConfigs {
		out.UserSearchConfigs = append(out.UserSearchConfigs, &v1.LDAPUserSearchConfig{BaseDn: sc.BaseDN,
			UsernameAttr: sc.UsernameAttr, FullNameAttr: sc.FullNameAttr, Filter: sc.Filter, ScopeSubtree: sc.ScopeSubtree,
			SelectGroupMembers: sc.SelectGroupMembers, IterateGroupMembers: sc.IterateGroupMembers,
			GroupDn: sc.GroupDN, GroupMemberAttr: sc.GroupMemberAttr})
	}
	return out
}

func ldapConfigFromPB(in *v1.LDAPConfig) ldapsync.Config {
	a := in.GetAdminSync()
	c := ldapsync.Config{Enabled: in.GetEnabled(), JITUserProvisioning: in.GetJitUserProvisioning(),
		SyncIntervalHours: int(in.GetSyncIntervalHours()), MaxDeactivationPercent: int(in.GetMaxDeactivationPercent()),
		AdminSync: ldapsync.GroupSync{Enabled: a.GetEnabled(), SelectGroupMembers: a.GetSelectGroupMembers(),
			GroupDN: a.GetGroupDn(), GroupMemberAttr: a.GetGroupMemberAttr(), SearchBaseDN: a.GetSearchBaseDn(),
			SearchScopeSubtree: a.GetSearchScopeSubtree(), SearchFilter: a.GetSearchFilter()}}
	for _, s := range in.GetServers() {
		c.Servers = append(c.Servers, ldapsync.Server{URL: s.GetUrl(), Domain: s.GetDomain(), ReaderDN: s.GetReaderDn(),
			ReaderPassword: s.GetReaderPassword(), StartTLS: s.GetStartTls(), SkipTLSVerify: s.GetSkipTlsVerify(),
			RootCAs: s.GetRootCas(), NoSimplePagination: s.GetNoSimplePagination()})
	}
	for _, sc := range in.GetUserSearchConfigs() {
		c.UserSearchConfigs = append(c.UserSearchConfigs, ldapsync.SearchConfig{BaseDN: sc.GetBaseDn(),
			UsernameAttr: sc.GetUsernameAttr(), FullNameAttr: sc.GetFullNameAttr(), Filter: sc.GetFilter(),
			ScopeSubtree: sc.GetScopeSubtree(), SelectGroupMembers: sc.GetSelectGroupMembers(),
			IterateGroupMembers: sc.GetIterateGroupMembers(), GroupDN: sc.GetGroupDn(), GroupMemberAttr: sc.GetGroupMemberAttr()})
	}
	return c
}
