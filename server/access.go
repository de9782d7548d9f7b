package server

import (
	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

// access is who may call a method before the handler looks at the request.
type access int

const (
	// accessPublic methods need no credentials.
	accessPublic access = iota + 1
	// accessAuthenticated methods need a principal; the handler checks
	// whether this principal may act on the objects the request names:
	// themselves, what they administer as org or team admin (rights.go),
	// or anything for a system admin.
	accessAuthenticated
	// accessAdmin methods are for system admins only.
	accessAdmin
)

// methodAccess classifies every RPC. A method missing here is refused
// (fail closed); TestEveryMethodIsClassified keeps the table complete.
var methodAccess = map[string]access{
	v1.AuthService_Login_FullMethodName:        accessPublic,
	v1.AuthService_Logout_FullMethodName:       accessAuthenticated,
	v1.AuthService_WhoAmI_FullMethodName:       accessAuthenticated,
	v1.AuthService_ListSessions_FullMethodName: accessAuthenticated,

	v1.AuthzService_Authorize_FullMethodName:               accessAuthenticated,
	v1.AuthzService_AuthorizeBatch_FullMethodName:          accessAuthenticated,
	v1.AuthzService_Explain_FullMethodName:                 accessAuthenticated,
	v1.AuthzService_GetEffectivePermissions_FullMethodName: accessAuthenticated,
	v1.AuthzService_ListAccess_FullMethodName:              accessAdmin,

	v1.UserService_CreateUser_FullMethodName:           accessAdmin,
	v1.UserService_GetUser_FullMethodName:              accessAuthenticated,
	v1.UserService_ListUsers_FullMethodName:            accessAdmin,
	v1.UserService_UpdateUser_FullMethodName:           accessAdmin,
	v1.UserService_ChangePassword_FullMethodName:       accessAuthenticated,
	v1.UserService_DeleteUser_FullMethodName:           accessAdmin,
	v1.UserService_GetDefaultCollection_FullMethodName: accessAuthenticated,
	v1.UserService_SetDefaultCollection_FullMethodName: accessAdmin,
	v1.UserService_ListUserMemberships_FullMethodName:  accessAuthenticated,

	v1.OrgService_CreateOrg_FullMethodName:        accessAdmin,
	v1.OrgService_GetOrg_FullMethodName:           accessAuthenticated,
	v1.OrgService_ListOrgs_FullMethodName:         accessAuthenticated,
	v1.OrgService_DeleteOrg_FullMethodName:        accessAdmin,
	v1.OrgService_SetOrgMember_FullMethodName:     accessAuthenticated,
	v1.OrgService_RemoveOrgMember_FullMethodName:  accessAuthenticated,
	v1.OrgService_ListOrgMembers_FullMethodName:   accessAuthenticated,
	v1.OrgService_CreateTeam_FullMethodName:       accessAuthenticated,
	v1.OrgService_GetTeam_FullMethodName:          accessAuthenticated,
	v1.OrgService_ListTeams_FullMethodName:        accessAuthenticated,
	v1.OrgService_UpdateTeam_FullMethodName:       accessAuthenticated,
	v1.OrgService_DeleteTeam_FullMethodName:       accessAuthenticated,
	v1.OrgService_SetTeamMember_FullMethodName:    accessAuthenticated,
	v1.OrgService_RemoveTeamMember_FullMethodName: accessAuthenticated,
	v1.OrgService_ListTeamMembers_FullMethodName:  accessAuthenticated,

	v1.ServiceAccountService_CreateServiceAccount_FullMethodName: accessAdmin,
	v1.ServiceAccountService_GetServiceAccount_FullMethodName:    accessAdmin,
	v1.ServiceAccountService_ListServiceAccounts_FullMethodName:  accessAdmin,
	v1.ServiceAccountService_UpdateServiceAccount_FullMethodName: accessAdmin,
	v1.ServiceAccountService_DeleteServiceAccount_FullMethodName: accessAdmin,

	v1.TokenService_CreateAPIToken_FullMethodName: accessAuthenticated,
	v1.TokenService_ListAPITokens_FullMethodName:  accessAuthenticated,
	v1.TokenService_RevokeAPIToken_FullMethodName: accessAuthenticated,

	v1.CollectionService_CreateCollection_FullMethodName:  accessAdmin,
	v1.CollectionService_GetCollection_FullMethodName:     accessAdmin,
	v1.CollectionService_ListCollections_FullMethodName:   accessAdmin,
	v1.CollectionService_GetCollectionTree_FullMethodName: accessAdmin,
	v1.CollectionService_DeleteCollection_FullMethodName:  accessAdmin,

	v1.RoleService_ListOperations_FullMethodName: accessAuthenticated,
	v1.RoleService_CreateRole_FullMethodName:     accessAdmin,
	v1.RoleService_GetRole_FullMethodName:        accessAuthenticated,
	v1.RoleService_ListRoles_FullMethodName:      accessAuthenticated,
	v1.RoleService_DeleteRole_FullMethodName:     accessAdmin,

	v1.GrantService_CreateGrant_FullMethodName: accessAuthenticated,
	v1.GrantService_GetGrant_FullMethodName:    accessAuthenticated,
	v1.GrantService_ListGrants_FullMethodName:  accessAuthenticated,
	v1.GrantService_DeleteGrant_FullMethodName: accessAuthenticated,

	v1.RepositoryService_CreateRepository_FullMethodName:     accessAuthenticated,
	v1.RepositoryService_GetRepository_FullMethodName:        accessAuthenticated,
	v1.RepositoryService_ListRepositories_FullMethodName:     accessAuthenticated,
	v1.RepositoryService_UpdateRepository_FullMethodName:     accessAuthenticated,
	v1.RepositoryService_DeleteRepository_FullMethodName:     accessAuthenticated,
	v1.RepositoryService_ListRepositoryAccess_FullMethodName: accessAuthenticated,

	v1.SettingsService_GetSettings_FullMethodName:    accessAdmin,
	v1.SettingsService_UpdateSettings_FullMethodName: accessAdmin,
	v1.AuditService_ListAuditEvents_FullMethodName:   accessAdmin,
	v1.PolicyService_ExportPolicy_FullMethodName:     accessAdmin,

	v1.ClusterService_GetClusterStatus_FullMethodName:    accessAdmin,
	v1.ClusterService_AddClusterMember_FullMethodName:    accessAdmin,
	v1.ClusterService_RemoveClusterMember_FullMethodName: accessAdmin,
	v1.ClusterService_TransferLeadership_FullMethodName:  accessAdmin,
	v1.ClusterService_CreateJoinToken_FullMethodName:     accessAdmin,
	v1.ClusterService_RevokeJoinToken_FullMethodName:     accessAdmin,
	// Join carries its own proof: a MAC made with a join token's secret.
	v1.ClusterService_Join_FullMethodName: accessPublic,

	v1.RegistryService_GetTokenSigning_FullMethodName:       accessAdmin,
	v1.RegistryService_RotateTokenSigningKey_FullMethodName: accessAdmin,

	v1.LDAPService_GetLDAPConfig_FullMethodName:      accessAdmin,
	v1.LDAPService_UpdateLDAPConfig_FullMethodName:   accessAdmin,
	v1.LDAPService_TestLDAPLogin_FullMethodName:      accessAdmin,
	v1.LDAPService_StartLDAPSync_FullMethodName:      accessAdmin,
	v1.LDAPService_GetLDAPSync_FullMethodName:        accessAdmin,
	v1.LDAPService_ListLDAPSyncs_FullMethodName:      accessAdmin,
	v1.LDAPService_GetTeamLDAPSync_FullMethodName:    accessAuthenticated,
	v1.LDAPService_UpdateTeamLDAPSync_FullMethodName: accessAuthenticated,
	v1.LDAPService_GetOrgAdminSync_FullMethodName:    accessAuthenticated,
	v1.LDAPService_UpdateOrgAdminSync_FullMethodName: accessAuthenticated,

	v1.BundleService_CreateBundle_FullMethodName:      accessAuthenticated,
	v1.BundleService_RegisterPublicKey_FullMethodName: accessAuthenticated,
	v1.BundleService_ListBundles_FullMethodName:       accessAuthenticated,
	v1.BundleService_UpdateBundle_FullMethodName:      accessAuthenticated,
	v1.BundleService_RevokeBundle_FullMethodName:      accessAuthenticated,
	v1.BundleService_GetClientCA_FullMethodName:       accessAuthenticated,
}
