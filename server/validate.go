package server

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/grantd/grantd/authn"
	"github.com/grantd/grantd/pki"

	"github.com/grantd/grantd/roles"
	"github.com/grantd/grantd/store"
	"github.com/grantd/grantd/subjects"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

// maxTokenTTLHours is the longest API token lifetime: ten years.
const maxTokenTTLHours = 10 * 365 * 24

// validateRequest checks the names a request carries before its handler
// runs, so malformed input is a 400 saying what is wrong, never a 404 for
// a name that could not exist nor anything reaching the store. Handlers
// check what depends on the state (existence, rights). The decision API
// is not validated here: it answers malformed questions with a denial.
func validateRequest(req any) error {
	var checks []error
	user := func(field, v string) {
		if err := subjects.ValidUsername(v); err != nil {
			checks = append(checks, fmt.Errorf("%s: %w", field, err))
		}
	}
	org := func(field, v string) {
		if err := subjects.ValidOrgName(v); err != nil {
			checks = append(checks, fmt.Errorf("%s: %w", field, err))
		}
	}
	namespace := func(v string) {
		if err := subjects.ValidNamespace(v); err != nil {
			checks = append(checks, err)
		}
	}
	repoName := func(v string) {
		if err := subjects.ValidRepositoryName(v); err != nil {
			checks = append(checks, fmt.Errorf("name: %w", err))
		}
	}
	role := func(v string) {
		if err := roles.ValidID(v); err != nil {
			if r, ok := roles.ByDisplayName(v); ok {
				err = fmt.Errorf("%q is the display name of role %q; roles are named by ID (`grantctl roles list`)", v, r.ID)
			}
			checks = append(checks, fmt.Errorf("role: %w", err))
		}
	}
	id := func(field, v string) {
		if v == "" || len(v) > 64 || strings.Trim(v, "0123456789abcdefghijklmnopqrstuvwxyz-_") != "" {
			checks = append(checks, fmt.Errorf("%s: %q is not an ID", field, v))
		}
	}
	password := func(field, v string) {
		if err := authn.ValidPassword(v); err != nil {
			checks = append(checks, fmt.Errorf("%s: %w", field, err))
		}
	}
	optional := func(v string, check func(string)) {
		if v != "" {
			check(v)
		}
	}
	visibility := func(v string) {
		if v != "" && v != store.VisibilityPublic && v != store.VisibilityPrivate {
			checks = append(checks, fmt.Errorf("visibility must be public or private, not %q", v))
		}
	}
	// oneOfOrEmpty accepts an unset filter or one of its values.
	oneOfOrEmpty := func(field, v string, allowed ...string) {
		if v != "" && !slices.Contains(allowed, v) {
			checks = append(checks, fmt.Errorf("%s must be one of %s, not %q", field, strings.Join(allowed, ", "), v))
		}
	}
	switch r := req.(type) {
	case *v1.ListUsersRequest:
		oneOfOrEmpty("state", r.GetState(), "active", "inactive")
		oneOfOrEmpty("source", r.GetSource(), store.SourceLocal, store.SourceLDAP)
	case *v1.CreateUserRequest:
		user("name", r.GetName())
		if r.GetPassword() != "" {
			password("password", r.GetPassword())
		}
	case *v1.GetUserRequest:
		user("name", r.GetName())
	case *v1.UpdateUserRequest:
		user("name", r.GetName())
	case *v1.ChangePasswordRequest:
		user("name", r.GetName())
		password("newPassword", r.GetNewPassword())
	case *v1.DeleteUserRequest:
		user("name", r.GetName())
	case *v1.GetDefaultCollectionRequest:
		user("name", r.GetName())
	case *v1.SetDefaultCollectionRequest:
		user("name", r.GetName())
	case *v1.ListUserMembershipsRequest:
		user("name", r.GetName())
	case *v1.CreateOrgRequest:
		org("name", r.GetName())
	case *v1.GetOrgRequest:
		org("org", r.GetOrg())
	case *v1.DeleteOrgRequest:
		org("org", r.GetOrg())
	case *v1.SetOrgMemberRequest:
		org("org", r.GetOrg())
		user("user", r.GetUser())
	case *v1.RemoveOrgMemberRequest:
		org("org", r.GetOrg())
		user("user", r.GetUser())
	case *v1.ListOrgMembersRequest:
		org("org", r.GetOrg())
	case *v1.CreateTeamRequest:
		org("org", r.GetOrg())
		org("name", r.GetName())
	case *v1.GetTeamRequest:
		org("org", r.GetOrg())
		org("team", r.GetTeam())
	case *v1.ListTeamsRequest:
		org("org", r.GetOrg())
	case *v1.UpdateTeamRequest:
		org("org", r.GetOrg())
		org("team", r.GetTeam())
	case *v1.DeleteTeamRequest:
		org("org", r.GetOrg())
		org("team", r.GetTeam())
	case *v1.SetTeamMemberRequest:
		org("org", r.GetOrg())
		org("team", r.GetTeam())
		user("user", r.GetUser())
	case *v1.RemoveTeamMemberRequest:
		org("org", r.GetOrg())
		org("team", r.GetTeam())
		user("user", r.GetUser())
	case *v1.ListTeamMembersRequest:
		org("org", r.GetOrg())
		org("team", r.GetTeam())
	case *v1.CreateServiceAccountRequest:
		user("name", r.GetName())
	case *v1.GetServiceAccountRequest:
		user("name", r.GetName())
	case *v1.UpdateServiceAccountRequest:
		user("name", r.GetName())
	case *v1.DeleteServiceAccountRequest:
		user("name", r.GetName())
	case *v1.CreateAPITokenRequest:
		if r.GetName() == "" || len(r.GetName()) > 100 {
			checks = append(checks, fmt.Errorf("name: 1 to 100 characters"))
		}
		if r.GetTtlHours() < 0 || r.GetTtlHours() > maxTokenTTLHours {
			checks = append(checks, fmt.Errorf("ttlHours must be 0 (no expiry) to %d (ten years)", maxTokenTTLHours))
		}
	case *v1.RevokeAPITokenRequest:
		id("id", r.GetId())
	case *v1.UpdateBundleRequest:
		id("serial", r.GetSerial())
	case *v1.RevokeBundleRequest:
		id("serial", r.GetSerial())
	case *v1.CreateRoleRequest:
		role(r.GetName())
	case *v1.GetRoleRequest:
		role(r.GetName())
	case *v1.DeleteRoleRequest:
		role(r.GetName())
	case *v1.CreateGrantRequest:
		role(r.GetRole())
	case *v1.GetGrantRequest:
		id("id", r.GetId())
	case *v1.DeleteGrantRequest:
		id("id", r.GetId())
	case *v1.ListGrantsRequest:
		optional(r.GetRole(), role)
		if r.GetSubject() != "" {
			if _, err := subjects.ParseSubject(r.GetSubject()); err != nil {
				checks = append(checks, fmt.Errorf("subject: %w", err))
			}
		}
		if r.GetObject() != "" {
			if _, err := subjects.ParseObject(r.GetObject()); err != nil {
				checks = append(checks, fmt.Errorf("object: %w", err))
			}
		}
	case *v1.GetTeamLDAPSyncRequest:
		org("org", r.GetOrg())
		org("team", r.GetTeam())
	case *v1.UpdateTeamLDAPSyncRequest:
		org("org", r.GetOrg())
		org("team", r.GetTeam())
	case *v1.GetOrgAdminSyncRequest:
		org("org", r.GetOrg())
	case *v1.UpdateOrgAdminSyncRequest:
		org("org", r.GetOrg())
	case *v1.CreateRepositoryRequest:
		namespace(r.GetNamespace())
		repoName(r.GetName())
		visibility(r.GetVisibility())
	case *v1.GetRepositoryRequest:
		namespace(r.GetNamespace())
		repoName(r.GetName())
	case *v1.ListRepositoriesRequest:
		optional(r.GetNamespace(), namespace)
	case *v1.UpdateRepositoryRequest:
		namespace(r.GetNamespace())
		repoName(r.GetName())
		visibility(r.GetVisibility())
	case *v1.DeleteRepositoryRequest:
		namespace(r.GetNamespace())
		repoName(r.GetName())
	case *v1.ListRepositoryAccessRequest:
		namespace(r.GetNamespace())
		repoName(r.GetName())
	case *v1.AddClusterMemberRequest:
		org("id", r.GetId())
		if _, _, err := net.SplitHostPort(r.GetAddress()); err != nil {
			checks = append(checks, fmt.Errorf("address: %q is not host:port", r.GetAddress()))
		}
	case *v1.RemoveClusterMemberRequest:
		org("id", r.GetId())
	case *v1.TransferLeadershipRequest:
		optional(r.GetToId(), func(v string) { org("toId", v) })
	case *v1.CreateJoinTokenRequest:
		if h := r.GetTtlHours(); h < 0 || h > maxJoinTokenTTLHours {
			checks = append(checks, fmt.Errorf("ttlHours must be 1 to %d (0: 24), not %d", maxJoinTokenTTLHours, h))
		}
	case *v1.RevokeJoinTokenRequest:
		id("id", r.GetId())
	case *v1.JoinRequest:
		id("tokenId", r.GetTokenId())
		org("nodeId", r.GetNodeId())
		if _, _, err := net.SplitHostPort(r.GetAddress()); err != nil || len(r.GetAddress()) > 255 {
			checks = append(checks, fmt.Errorf("address: %q is not host:port", r.GetAddress()))
		}
		if len(r.GetPublicKey()) > 4096 {
			checks = append(checks, errors.New("publicKey: longer than 4096 bytes"))
		}
		if len(r.GetNonce()) != pki.JoinNonceBytes || len(r.GetMac()) != sha256.Size {
			checks = append(checks, fmt.Errorf("nonce must be %d bytes and mac %d", pki.JoinNonceBytes, sha256.Size))
		}
	}
	if len(checks) > 0 {
		msgs := make([]string, len(checks))
		for i, c := range checks {
			msgs[i] = c.Error()
		}
		return invalid("%s", strings.Join(msgs, "; "))
	}
	return nil
}
