package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

func newUsersCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "users", Aliases: []string{"user"}, Short: "Manage users"}
	users := func(conn *grpc.ClientConn) v1.UserServiceClient { return v1.NewUserServiceClient(conn) }
	printUsers := func(w io.Writer, us ...*v1.User) error {
		t := newTable(w, "NAME", "FULL NAME", "ADMIN", "ACTIVE", "SOURCE", "DEFAULT COLLECTION")
		for _, u := range us {
			t.row(u.GetName(), u.GetFullName(), u.GetIsAdmin(), u.GetActive(), u.GetSource(), u.GetDefaultCollection())
		}
		return t.flush()
	}

	var list v1.ListUsersRequest
	var page pageFlags
	ls := &cobra.Command{Use: "list", Short: "List users", Args: cobra.NoArgs,
		Example: "  grantctl users list --prefix a --state active",
		RunE: func(cmd *cobra.Command, _ []string) error {
			list.PageSize, list.PageToken = page.size, page.token
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ListUsersResponse, error) {
				return users(c).ListUsers(ctx, &list)
			}, func(w io.Writer, r *v1.ListUsersResponse) error {
				err := printUsers(w, r.GetUsers()...)
				morePages(w, r.GetNextPageToken())
				return err
			})
		}}
	ls.Flags().StringVar(&list.Prefix, "prefix", "", "only names starting with this")
	ls.Flags().BoolVar(&list.AdminsOnly, "admins", false, "only system admins")
	ls.Flags().StringVar(&list.Source, "source", "", "only users from this source: local or ldap")
	ls.Flags().StringVar(&list.State, "state", "", "only active or inactive users")
	page.add(ls)

	var create v1.CreateUserRequest
	var passwordStdin bool
	mk := &cobra.Command{Use: "create NAME", Short: "Create a local user (prompts for the password)", Args: cobra.ExactArgs(1),
		Example: "  grantctl users create alice --full-name 'Alice A.'\n  echo \"$PW\" | grantctl users create ci-bot --password-stdin",
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := readPassword(cmd.InOrStdin(), cmd.ErrOrStderr(), passwordStdin)
			if err != nil {
				return err
			}
			create.Name, create.Password = args[0], pw
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.CreateUserResponse, error) {
				return users(c).CreateUser(ctx, &create)
			}, "Created user %s", args[0])
		}}
	mk.Flags().StringVar(&create.FullName, "full-name", "", "the user's full name")
	mk.Flags().BoolVar(&create.IsAdmin, "admin", false, "make the user a system admin")
	mk.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")

	get := &cobra.Command{Use: "get NAME", Short: "Show a user", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.User, error) {
				return users(c).GetUser(ctx, &v1.GetUserRequest{Name: args[0]})
			}, func(w io.Writer, u *v1.User) error { return printUsers(w, u) })
		}}

	var fullName string
	var admin, active bool
	upd := &cobra.Command{Use: "update NAME", Short: "Change a user's full name, admin flag or active flag", Args: cobra.ExactArgs(1),
		Example: "  grantctl users update alice --active=false\n  grantctl users update bob --admin",
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &v1.UpdateUserRequest{Name: args[0]}
			if cmd.Flags().Changed("full-name") {
				req.FullName = &fullName
			}
			if cmd.Flags().Changed("admin") {
				req.IsAdmin = &admin
			}
			if cmd.Flags().Changed("active") {
				req.Active = &active
			}
			if req.FullName == nil && req.IsAdmin == nil && req.Active == nil {
				return fmt.Errorf("nothing to change: give --full-name, --admin or --active")
			}
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.UpdateUserResponse, error) {
				return users(c).UpdateUser(ctx, req)
			}, "Updated user %s", args[0])
		}}
	upd.Flags().StringVar(&fullName, "full-name", "", "new full name")
	upd.Flags().BoolVar(&admin, "admin", false, "system admin (--admin=false to revoke)")
	upd.Flags().BoolVar(&active, "active", true, "active (--active=false to deactivate: their sessions and tokens stop at once)")

	var withOld bool
	passwd := &cobra.Command{Use: "passwd NAME", Short: "Change a local user's password (yours needs the old one)", Args: cobra.ExactArgs(1),
		Long: "Change a local user's password. Prompts on a terminal; otherwise reads the passwords from standard\n" +
			"input, one per line (the old one first with --old).",
		Example: "  grantctl users passwd alice            # as admin\n  printf '%s\\n%s\\n' \"$OLD\" \"$NEW\" | grantctl users passwd me --old",
		RunE: func(cmd *cobra.Command, args []string) error {
			labels := []string{"New password"}
			if withOld {
				labels = []string{"Old password", "New password"}
			}
			secrets, err := readSecrets(cmd.InOrStdin(), cmd.ErrOrStderr(), labels...)
			if err != nil {
				return err
			}
			req := &v1.ChangePasswordRequest{Name: args[0], NewPassword: secrets[len(secrets)-1]}
			if withOld {
				req.OldPassword = secrets[0]
			}
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ChangePasswordResponse, error) {
				return users(c).ChangePassword(ctx, req)
			}, "Changed the password of %s", args[0])
		}}
	passwd.Flags().BoolVar(&withOld, "old", false, "also give the old password (needed when changing your own)")

	del := &cobra.Command{Use: "delete NAME", Short: "Delete a user with their memberships, grants, sessions and tokens", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.DeleteUserResponse, error) {
				return users(c).DeleteUser(ctx, &v1.DeleteUserRequest{Name: args[0]})
			}, "Deleted user %s", args[0])
		}}

	memberships := &cobra.Command{Use: "memberships NAME", Short: "List a user's orgs and teams", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ListUserMembershipsResponse, error) {
				return users(c).ListUserMemberships(ctx, &v1.ListUserMembershipsRequest{Name: args[0]})
			}, func(w io.Writer, r *v1.ListUserMembershipsResponse) error {
				t := newTable(w, "KIND", "NAME", "ADMIN")
				for _, o := range r.GetOrgs() {
					t.row("org", o.GetOrg(), o.GetIsAdmin())
				}
				for _, tm := range r.GetTeams() {
					t.row("team", tm.GetOrg()+"/"+tm.GetTeam(), tm.GetIsAdmin())
				}
				return t.flush()
			})
		}}

	defaultCollection := &cobra.Command{Use: "default-collection NAME [PATH]", Short: "Show or set where a user's unlabelled resources go",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.SetDefaultCollectionResponse, error) {
					return users(c).SetDefaultCollection(ctx, &v1.SetDefaultCollectionRequest{Name: args[0], Collection: args[1]})
				}, "Default collection of %s is now %s", args[0], args[1])
			}
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.DefaultCollection, error) {
				return users(c).GetDefaultCollection(ctx, &v1.GetDefaultCollectionRequest{Name: args[0]})
			}, func(w io.Writer, r *v1.DefaultCollection) error {
				_, err := fmt.Fprintln(w, r.GetCollection())
				return err
			})
		}}
	cmd.AddCommand(ls, mk, get, upd, passwd, del, memberships, defaultCollection)
	return cmd
}

func newServiceAccountsCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "serviceaccounts", Aliases: []string{"sa", "serviceaccount"}, Short: "Manage service accounts (non-human callers)"}
	sas := func(conn *grpc.ClientConn) v1.ServiceAccountServiceClient {
		return v1.NewServiceAccountServiceClient(conn)
	}
	printAccounts := func(w io.Writer, as ...*v1.ServiceAccount) error {
		t := newTable(w, "NAME", "ACTIVE", "CAPABILITIES", "DESCRIPTION")
		for _, a := range as {
			t.row(a.GetName(), a.GetActive(), a.GetCapabilities(), a.GetDescription())
		}
		return t.flush()
	}
	var page pageFlags
	ls := &cobra.Command{Use: "list", Short: "List service accounts", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ListServiceAccountsResponse, error) {
				return sas(c).ListServiceAccounts(ctx, &v1.ListServiceAccountsRequest{PageSize: page.size, PageToken: page.token})
			}, func(w io.Writer, r *v1.ListServiceAccountsResponse) error {
				err := printAccounts(w, r.GetServiceAccounts()...)
				morePages(w, r.GetNextPageToken())
				return err
			})
		}}
	page.add(ls)
	var create v1.CreateServiceAccountRequest
	mk := &cobra.Command{Use: "create NAME", Short: "Create a service account", Args: cobra.ExactArgs(1),
		Example: "  grantctl sa create edge-proxy --capability authorize\n  grantctl tokens create proxy-token --owner serviceaccount:edge-proxy",
		RunE: func(cmd *cobra.Command, args []string) error {
			create.Name = args[0]
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.CreateServiceAccountResponse, error) {
				return sas(c).CreateServiceAccount(ctx, &create)
			}, "Created service account %s", args[0])
		}}
	mk.Flags().StringVar(&create.Description, "description", "", "what the account is for")
	mk.Flags().StringSliceVar(&create.Capabilities, "capability", nil, "capabilities: authorize (may ask Authorize about any subject)")
	get := &cobra.Command{Use: "get NAME", Short: "Show a service account", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ServiceAccount, error) {
				return sas(c).GetServiceAccount(ctx, &v1.GetServiceAccountRequest{Name: args[0]})
			}, func(w io.Writer, a *v1.ServiceAccount) error { return printAccounts(w, a) })
		}}
	var description string
	var active bool
	var caps []string
	upd := &cobra.Command{Use: "update NAME", Short: "Change a service account's description, capabilities or active flag", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &v1.UpdateServiceAccountRequest{Name: args[0]}
			if cmd.Flags().Changed("description") {
				req.Description = &description
			}
			if cmd.Flags().Changed("active") {
				req.Active = &active
			}
			if cmd.Flags().Changed("capability") {
				req.Capabilities, req.UpdateCapabilities = caps, true
			}
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.UpdateServiceAccountResponse, error) {
				return sas(c).UpdateServiceAccount(ctx, req)
			}, "Updated service account %s", args[0])
		}}
	upd.Flags().StringVar(&description, "description", "", "new description")
	upd.Flags().BoolVar(&active, "active", true, "active (--active=false stops its tokens at once)")
	upd.Flags().StringSliceVar(&caps, "capability", nil, "replace the capabilities (--capability= for none)")
	del := &cobra.Command{Use: "delete NAME", Short: "Delete a service account with its grants and tokens", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.DeleteServiceAccountResponse, error) {
				return sas(c).DeleteServiceAccount(ctx, &v1.DeleteServiceAccountRequest{Name: args[0]})
			}, "Deleted service account %s", args[0])
		}}
	cmd.AddCommand(ls, mk, get, upd, del)
	return cmd
}

func newTokensCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "tokens", Aliases: []string{"token"}, Short: "Manage API tokens (yours, or a service account's as admin)"}
	tokens := func(conn *grpc.ClientConn) v1.TokenServiceClient { return v1.NewTokenServiceClient(conn) }
	var owner string
	ls := &cobra.Command{Use: "list", Short: "List API tokens", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ListAPITokensResponse, error) {
				return tokens(c).ListAPITokens(ctx, &v1.ListAPITokensRequest{Owner: owner})
			}, func(w io.Writer, r *v1.ListAPITokensResponse) error {
				t := newTable(w, "ID", "NAME", "OWNER", "CREATED", "EXPIRES")
				for _, x := range r.GetTokens() {
					t.row(x.GetId(), x.GetName(), x.GetOwner(), x.GetCreatedAt(), x.GetExpiresAt())
				}
				return t.flush()
			})
		}}
	ls.Flags().StringVar(&owner, "owner", "", "whose tokens (user:<name> or serviceaccount:<name>; default: yours)")
	var create v1.CreateAPITokenRequest
	mk := &cobra.Command{Use: "create NAME", Short: "Create an API token; the secret is printed once", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			create.Name = args[0]
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.CreateAPITokenResponse, error) {
				return tokens(c).CreateAPIToken(ctx, &create)
			}, func(w io.Writer, r *v1.CreateAPITokenResponse) error {
				fmt.Fprintf(w, "Created token %s (id %s) for %s. Its secret, shown only now:\n%s\n",
					r.GetToken().GetName(), r.GetToken().GetId(), r.GetToken().GetOwner(), r.GetSecret())
				return nil
			})
		}}
	mk.Flags().StringVar(&create.Owner, "owner", "", "the token's owner (default: you)")
	mk.Flags().Int32Var(&create.TtlHours, "ttl-hours", 0, "lifetime in hours (0: no expiry)")
	revoke := &cobra.Command{Use: "revoke ID", Short: "Revoke an API token", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.RevokeAPITokenResponse, error) {
				return tokens(c).RevokeAPIToken(ctx, &v1.RevokeAPITokenRequest{Id: args[0]})
			}, "Revoked token %s", args[0])
		}}
	cmd.AddCommand(ls, mk, revoke)
	return cmd
}

func newSessionsCommand(g *globals) *cobra.Command {
	return &cobra.Command{Use: "sessions", Short: "List your login sessions", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ListSessionsResponse, error) {
				return v1.NewAuthServiceClient(c).ListSessions(ctx, &v1.ListSessionsRequest{})
			}, func(w io.Writer, r *v1.ListSessionsResponse) error {
				t := newTable(w, "ID", "CREATED", "EXPIRES", "CURRENT")
				for _, s := range r.GetSessions() {
					t.row(s.GetId(), s.GetCreatedAt(), s.GetExpiresAt(), s.GetCurrent())
				}
				return t.flush()
			})
		}}
}
