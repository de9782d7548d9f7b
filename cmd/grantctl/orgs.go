package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

func orgClient(conn *grpc.ClientConn) v1.OrgServiceClient { return v1.NewOrgServiceClient(conn) }

func newOrgsCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "orgs", Aliases: []string{"org"}, Short: "Manage organizations and their members"}
	var page pageFlags
	ls := &cobra.Command{Use: "list", Short: "List orgs (all for system admins, those you administer otherwise)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ListOrgsResponse, error) {
				return orgClient(c).ListOrgs(ctx, &v1.ListOrgsRequest{PageSize: page.size, PageToken: page.token})
			}, func(w io.Writer, r *v1.ListOrgsResponse) error {
				t := newTable(w, "NAME", "CREATED")
				for _, o := range r.GetOrgs() {
					t.row(o.GetName(), o.GetCreatedAt())
				}
				err := t.flush()
				morePages(w, r.GetNextPageToken())
				return err
			})
		}}
	page.add(ls)
	mk := &cobra.Command{Use: "create ORG", Short: "Create an org", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.CreateOrgResponse, error) {
				return orgClient(c).CreateOrg(ctx, &v1.CreateOrgRequest{Name: args[0]})
			}, "Created org %s", args[0])
		}}
	del := &cobra.Command{Use: "delete ORG", Short: "Delete an org with its teams, memberships and their grants", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.DeleteOrgResponse, error) {
				return orgClient(c).DeleteOrg(ctx, &v1.DeleteOrgRequest{Org: args[0]})
			}, "Deleted org %s", args[0])
		}}
	members := &cobra.Command{Use: "members ORG", Short: "List an org's members", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ListOrgMembersResponse, error) {
				return orgClient(c).ListOrgMembers(ctx, &v1.ListOrgMembersRequest{Org: args[0]})
			}, func(w io.Writer, r *v1.ListOrgMembersResponse) error {
				t := newTable(w, "USER", "ORG ADMIN")
				for _, m := range r.GetMembers() {
					t.row(m.GetUser(), m.GetIsAdmin())
				}
				return t.flush()
			})
		}}
	var admin bool
	add := &cobra.Command{Use: "add-member ORG USER", Short: "Add a user to an org, or change their admin flag", Args: cobra.ExactArgs(2),
		Example: "  grantctl orgs add-member acme alice --admin",
		RunE: func(cmd *cobra.Command, args []string) error {
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.SetOrgMemberResponse, error) {
				return orgClient(c).SetOrgMember(ctx, &v1.SetOrgMemberRequest{Org: args[0], User: args[1], IsAdmin: admin})
			}, "%s is a member of %s", args[1], args[0])
		}}
	add.Flags().BoolVar(&admin, "admin", false, "make them an org admin")
	rm := &cobra.Command{Use: "remove-member ORG USER", Short: "Remove a user from an org and all its teams", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.RemoveOrgMemberResponse, error) {
				return orgClient(c).RemoveOrgMember(ctx, &v1.RemoveOrgMemberRequest{Org: args[0], User: args[1]})
			}, "Removed %s from %s", args[1], args[0])
		}}
	cmd.AddCommand(ls, mk, del, members, add, rm)
	return cmd
}

func newTeamsCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "teams", Aliases: []string{"team"}, Short: "Manage the teams of an org and their members"}
	printTeams := func(w io.Writer, ts ...*v1.Team) error {
		t := newTable(w, "ORG", "TEAM", "DESCRIPTION", "KUBERNETES GROUPS")
		for _, x := range ts {
			t.row(x.GetOrg(), x.GetName(), x.GetDescription(), x.GetKubernetesGroups())
		}
		return t.flush()
	}
	ls := &cobra.Command{Use: "list ORG", Short: "List an org's teams", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ListTeamsResponse, error) {
				return orgClient(c).ListTeams(ctx, &v1.ListTeamsRequest{Org: args[0]})
			}, func(w io.Writer, r *v1.ListTeamsResponse) error { return printTeams(w, r.GetTeams()...) })
		}}
	var description string
	mk := &cobra.Command{Use: "create ORG TEAM", Short: "Create a team", Args: cobra.ExactArgs(2),
		Example: "  grantctl teams create acme web --description 'front-end developers'",
		RunE: func(cmd *cobra.Command, args []string) error {
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.CreateTeamResponse, error) {
				return orgClient(c).CreateTeam(ctx, &v1.CreateTeamRequest{Org: args[0], Name: args[1], Description: description})
			}, "Created team %s/%s", args[0], args[1])
		}}
	mk.Flags().StringVar(&description, "description", "", "what the team is")
	get := &cobra.Command{Use: "get ORG TEAM", Short: "Show a team", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.Team, error) {
				return orgClient(c).GetTeam(ctx, &v1.GetTeamRequest{Org: args[0], Team: args[1]})
			}, func(w io.Writer, t *v1.Team) error { return printTeams(w, t) })
		}}
	var newDescription string
	var kubeGroups []string
	upd := &cobra.Command{Use: "update ORG TEAM", Short: "Change a team's description or Kubernetes groups", Args: cobra.ExactArgs(2),
		Example: "  grantctl teams update acme web --description 'front-end developers'\n" +
			"  grantctl teams update acme web --kubernetes-group oidc:web-devs   # --kubernetes-group= clears them",
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &v1.UpdateTeamRequest{Org: args[0], Team: args[1]}
			if cmd.Flags().Changed("description") {
				req.Description = &newDescription
			}
			if cmd.Flags().Changed("kubernetes-group") {
				req.KubernetesGroups, req.UpdateKubernetesGroups = kubeGroups, true
			}
			if req.Description == nil && !req.UpdateKubernetesGroups {
				return fmt.Errorf("give --description or --kubernetes-group")
			}
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.UpdateTeamResponse, error) {
				return orgClient(c).UpdateTeam(ctx, req)
			}, "Updated team %s/%s", args[0], args[1])
		}}
	upd.Flags().StringVar(&newDescription, "description", "", "new description")
	upd.Flags().StringSliceVar(&kubeGroups, "kubernetes-group", nil,
		"replace the Kubernetes groups whose members (users grantd knows) act as this team in Kubernetes (system admins; --kubernetes-group= for none)")
	del := &cobra.Command{Use: "delete ORG TEAM", Short: "Delete a team with its memberships and grants", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.DeleteTeamResponse, error) {
				return orgClient(c).DeleteTeam(ctx, &v1.DeleteTeamRequest{Org: args[0], Team: args[1]})
			}, "Deleted team %s/%s", args[0], args[1])
		}}
	members := &cobra.Command{Use: "members ORG TEAM", Short: "List a team's members", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ListTeamMembersResponse, error) {
				return orgClient(c).ListTeamMembers(ctx, &v1.ListTeamMembersRequest{Org: args[0], Team: args[1]})
			}, func(w io.Writer, r *v1.ListTeamMembersResponse) error {
				t := newTable(w, "USER", "TEAM ADMIN")
				for _, m := range r.GetMembers() {
					t.row(m.GetUser(), m.GetIsAdmin())
				}
				return t.flush()
			})
		}}
	var admin bool
	add := &cobra.Command{Use: "add-member ORG TEAM USER", Short: "Add a user to a team (and so to its org), or change their admin flag",
		Args: cobra.ExactArgs(3), Example: "  grantctl teams add-member acme web maria",
		RunE: func(cmd *cobra.Command, args []string) error {
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.SetTeamMemberResponse, error) {
				return orgClient(c).SetTeamMember(ctx, &v1.SetTeamMemberRequest{Org: args[0], Team: args[1], User: args[2], IsAdmin: admin})
			}, "%s is a member of %s/%s", args[2], args[0], args[1])
		}}
	add.Flags().BoolVar(&admin, "admin", false, "make them a team admin")
	rm := &cobra.Command{Use: "remove-member ORG TEAM USER", Short: "Remove a user from a team", Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.RemoveTeamMemberResponse, error) {
				return orgClient(c).RemoveTeamMember(ctx, &v1.RemoveTeamMemberRequest{Org: args[0], Team: args[1], User: args[2]})
			}, "Removed %s from %s/%s", args[2], args[0], args[1])
		}}
	cmd.AddCommand(ls, mk, get, upd, del, members, add, rm)
	return cmd
}
