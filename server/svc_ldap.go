package server

import (
	"context"
	"encoding/json"

	"github.com/grantd/grantd/ldapsync"
	"github.com/grantd/grantd/store"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

// ldapService serves the directory configuration. Login through the
// directory, sync runs and test login are not built yet: those methods
// still answer Unimplemented.
type ldapService struct {
	v1.UnimplementedLDAPServiceServer
	*deps
}

// storedLDAPConfig reads the configuration, or the default one.
func storedLDAPConfig(r *store.ReadTxn) (ldapsync.Config, error) {
	c := ldapsync.DefaultConfig()
	row, err := r.LDAPConfig()
	if err != nil || row == nil {
		return c, err
	}
	err = json.Unmarshal(row.Config, &c)
	return c, err
}

func (s *ldapService) GetLDAPConfig(context.Context, *v1.GetLDAPConfigRequest) (*v1.LDAPConfig, error) {
	c, err := storedLDAPConfig(s.store.Read())
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
	current, err := storedLDAPConfig(s.store.Read())
	if err != nil {
		return nil, err
	}
	c := ldapConfigFromPB(req.GetConfig())
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
		return nil, invalid("%v", err)
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
