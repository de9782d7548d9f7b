package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

func newReposCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "repos", Aliases: []string{"repo", "repositories"}, Short: "Manage registry repositories"}
	repos := func(conn *grpc.ClientConn) v1.RepositoryServiceClient { return v1.NewRepositoryServiceClient(conn) }
	printRepos := func(w io.Writer, rs ...*v1.Repository) error {
		t := newTable(w, "REPOSITORY", "VISIBILITY", "DESCRIPTION")
		for _, r := range rs {
			t.row(r.GetNamespace()+"/"+r.GetName(), r.GetVisibility(), r.GetDescription())
		}
		return t.flush()
	}
	var namespace string
	ls := &cobra.Command{Use: "list", Short: "List the repositories you may view", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ListRepositoriesResponse, error) {
				return repos(c).ListRepositories(ctx, &v1.ListRepositoriesRequest{Namespace: namespace})
			}, func(w io.Writer, r *v1.ListRepositoriesResponse) error { return printRepos(w, r.GetRepositories()...) })
		}}
	ls.Flags().StringVar(&namespace, "namespace", "", "only this namespace")
	var visibility, description string
	mk := &cobra.Command{Use: "create NAMESPACE/NAME", Short: "Create a repository", Args: cobra.ExactArgs(1),
		Example: "  grantctl repos create web/awesome_app --visibility private",
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, name, err := splitRepository(args[0])
			if err != nil {
				return err
			}
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.CreateRepositoryResponse, error) {
				return repos(c).CreateRepository(ctx, &v1.CreateRepositoryRequest{Namespace: ns, Name: name,
					Visibility: visibility, Description: description})
			}, "Created repository %s", args[0])
		}}
	mk.Flags().StringVar(&visibility, "visibility", "private", "private or public")
	mk.Flags().StringVar(&description, "description", "", "what is in it")
	get := &cobra.Command{Use: "get NAMESPACE/NAME", Short: "Show a repository", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, name, err := splitRepository(args[0])
			if err != nil {
				return err
			}
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.Repository, error) {
				return repos(c).GetRepository(ctx, &v1.GetRepositoryRequest{Namespace: ns, Name: name})
			}, func(w io.Writer, r *v1.Repository) error { return printRepos(w, r) })
		}}
	var newVisibility, newDescription string
	upd := &cobra.Command{Use: "update NAMESPACE/NAME", Short: "Change a repository's visibility or description", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, name, err := splitRepository(args[0])
			if err != nil {
				return err
			}
			req := &v1.UpdateRepositoryRequest{Namespace: ns, Name: name}
			if cmd.Flags().Changed("visibility") {
				req.Visibility = &newVisibility
			}
			if cmd.Flags().Changed("description") {
				req.Description = &newDescription
			}
			if req.Visibility == nil && req.Description == nil {
				return fmt.Errorf("nothing to change: give --visibility or --description")
			}
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.UpdateRepositoryResponse, error) {
				return repos(c).UpdateRepository(ctx, req)
			}, "Updated repository %s", args[0])
		}}
	upd.Flags().StringVar(&newVisibility, "visibility", "", "private or public")
	upd.Flags().StringVar(&newDescription, "description", "", "new description")
	del := &cobra.Command{Use: "delete NAMESPACE/NAME", Short: "Delete a repository and the grants on it", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, name, err := splitRepository(args[0])
			if err != nil {
				return err
			}
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.DeleteRepositoryResponse, error) {
				return repos(c).DeleteRepository(ctx, &v1.DeleteRepositoryRequest{Namespace: ns, Name: name})
			}, "Deleted repository %s", args[0])
		}}
	access := &cobra.Command{Use: "access NAMESPACE/NAME", Short: "List who has access to a repository, through which grant", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, name, err := splitRepository(args[0])
			if err != nil {
				return err
			}
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ListRepositoryAccessResponse, error) {
				return repos(c).ListRepositoryAccess(ctx, &v1.ListRepositoryAccessRequest{Namespace: ns, Name: name})
			}, func(w io.Writer, r *v1.ListRepositoryAccessResponse) error {
				t := newTable(w, "SUBJECT", "ROLE", "OBJECT", "GRANT")
				for _, a := range r.GetAccess() {
					t.row(a.GetSubject(), a.GetRole(), a.GetObject(), a.GetGrantId())
				}
				return t.flush()
			})
		}}
	cmd.AddCommand(ls, mk, get, upd, del, access)
	return cmd
}

func newSettingsCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "settings", Short: "Show or change the server settings"}
	printSettings := func(w io.Writer, s *v1.Settings) error {
		t := newTable(w, "SETTING", "VALUE")
		t.row("default-private-role", s.GetDefaultPrivateRole())
		t.row("session-lifetime-minutes", s.GetSessions().GetLifetimeMinutes())
		t.row("session-renewal-threshold-minutes", s.GetSessions().GetRenewalThresholdMinutes())
		t.row("sessions-per-user", s.GetSessions().GetPerUserLimit())
		t.row("node-isolation", s.GetNodeIsolation())
		t.row("audit-retention", s.GetAuditRetention())
		return t.flush()
	}
	settings := func(conn *grpc.ClientConn) v1.SettingsServiceClient { return v1.NewSettingsServiceClient(conn) }
	get := &cobra.Command{Use: "get", Short: "Show the settings", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.Settings, error) {
				return settings(c).GetSettings(ctx, &v1.GetSettingsRequest{})
			}, printSettings)
		}}
	var role string
	var lifetime, threshold, perUser, retention int32
	var isolation bool
	set := &cobra.Command{Use: "set", Short: "Change the settings named by flags; the rest stay as they are", Args: cobra.NoArgs,
		Example: "  grantctl settings set --session-lifetime-minutes 120 --sessions-per-user 5",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.UpdateSettingsResponse, error) {
				cur, err := settings(c).GetSettings(ctx, &v1.GetSettingsRequest{})
				if err != nil {
					return nil, err
				}
				f := cmd.Flags()
				if f.Changed("default-private-role") {
					cur.DefaultPrivateRole = role
				}
				if f.Changed("session-lifetime-minutes") {
					cur.Sessions.LifetimeMinutes = lifetime
				}
				if f.Changed("session-renewal-threshold-minutes") {
					cur.Sessions.RenewalThresholdMinutes = threshold
				}
				if f.Changed("sessions-per-user") {
					cur.Sessions.PerUserLimit = perUser
				}
				if f.Changed("node-isolation") {
					cur.NodeIsolation = isolation
				}
				if f.Changed("audit-retention") {
					cur.AuditRetention = retention
				}
				return settings(c).UpdateSettings(ctx, &v1.UpdateSettingsRequest{Settings: cur})
			}, func(w io.Writer, r *v1.UpdateSettingsResponse) error {
				fmt.Fprintf(w, "Updated the settings (revision %d)\n", r.GetRevision())
				return printSettings(w, r.GetSettings())
			})
		}}
	f := set.Flags()
	f.StringVar(&role, "default-private-role", "", "role of each new user on their private collection")
	f.Int32Var(&lifetime, "session-lifetime-minutes", 0, "session lifetime (at least 10)")
	f.Int32Var(&threshold, "session-renewal-threshold-minutes", 0, "renew sessions used within this many minutes of their end (0: never)")
	f.Int32Var(&perUser, "sessions-per-user", 0, "sessions a user may hold; the least recently used goes first (0: unlimited)")
	f.BoolVar(&isolation, "node-isolation", false, "allow nodes outside /Shared and /System")
	f.Int32Var(&retention, "audit-retention", 0, "audit events to keep (100 to 10,000,000)")
	cmd.AddCommand(get, set)
	return cmd
}

func newAuditCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read the audit log of changes"}
	var req v1.ListAuditEventsRequest
	var page pageFlags
	var details bool
	ls := &cobra.Command{Use: "list", Short: "List changes, newest first", Args: cobra.NoArgs,
		Example: "  grantctl audit list --actor user:admin\n  grantctl audit list --object team:acme/ --details",
		RunE: func(cmd *cobra.Command, _ []string) error {
			req.PageSize, req.PageToken = page.size, page.token
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ListAuditEventsResponse, error) {
				return v1.NewAuditServiceClient(c).ListAuditEvents(ctx, &req)
			}, func(w io.Writer, r *v1.ListAuditEventsResponse) error {
				t := newTable(w, "ID", "TIME", "ACTOR", "ACTION", "OBJECT", "CLIENT")
				for _, e := range r.GetEvents() {
					t.row(e.GetId(), e.GetTime(), e.GetActor(), e.GetAction(), e.GetObject(), e.GetClientAddr())
					if details {
						t.row("", "before:", e.GetBefore())
						t.row("", "after:", e.GetAfter())
					}
				}
				err := t.flush()
				morePages(w, r.GetNextPageToken())
				return err
			})
		}}
	ls.Flags().StringVar(&req.Actor, "actor", "", "only changes by this subject")
	ls.Flags().StringVar(&req.Object, "object", "", "only changes to objects starting with this")
	ls.Flags().BoolVar(&details, "details", false, "show the object before and after each change")
	page.add(ls)
	cmd.AddCommand(ls)
	return cmd
}
