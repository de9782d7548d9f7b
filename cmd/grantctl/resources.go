package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

func newCollectionsCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "collections", Aliases: []string{"collection", "col"}, Short: "Manage the collection tree"}
	cols := func(conn *grpc.ClientConn) v1.CollectionServiceClient { return v1.NewCollectionServiceClient(conn) }
	printCollections := func(w io.Writer, cs ...*v1.Collection) error {
		t := newTable(w, "PATH", "PARENT", "BUILT-IN", "CREATED")
		for _, c := range cs {
			t.row(c.GetPath(), c.GetParent(), c.GetBuiltin(), c.GetCreatedAt())
		}
		return t.flush()
	}
	var parent string
	var page pageFlags
	ls := &cobra.Command{Use: "list", Short: "List collections (all, or the children of --parent)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ListCollectionsResponse, error) {
				return cols(c).ListCollections(ctx, &v1.ListCollectionsRequest{Parent: parent, PageSize: page.size, PageToken: page.token})
			}, func(w io.Writer, r *v1.ListCollectionsResponse) error {
				err := printCollections(w, r.GetCollections()...)
				morePages(w, r.GetNextPageToken())
				return err
			})
		}}
	ls.Flags().StringVar(&parent, "parent", "", "only the children of this collection")
	page.add(ls)
	mk := &cobra.Command{Use: "create PATH", Short: "Create a collection under an existing parent", Args: cobra.ExactArgs(1),
		Example: "  grantctl collections create /production\n  grantctl collections create /production/payments",
		RunE: func(cmd *cobra.Command, args []string) error {
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.CreateCollectionResponse, error) {
				return cols(c).CreateCollection(ctx, &v1.CreateCollectionRequest{Path: args[0]})
			}, "Created collection %s", args[0])
		}}
	get := &cobra.Command{Use: "get PATH", Short: "Show a collection", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.Collection, error) {
				return cols(c).GetCollection(ctx, &v1.GetCollectionRequest{Path: args[0]})
			}, func(w io.Writer, c *v1.Collection) error { return printCollections(w, c) })
		}}
	var force bool
	del := &cobra.Command{Use: "delete PATH", Short: "Delete a collection without children (--force also deletes the grants on it)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.DeleteCollectionResponse, error) {
				return cols(c).DeleteCollection(ctx, &v1.DeleteCollectionRequest{Path: args[0], Force: force})
			}, func(w io.Writer, r *v1.DeleteCollectionResponse) error {
				fmt.Fprintf(w, "Deleted collection %s (revision %d)\n", args[0], r.GetRevision())
				for _, id := range r.GetDeletedGrants() {
					fmt.Fprintf(w, "  deleted grant %s\n", id)
				}
				return nil
			})
		}}
	del.Flags().BoolVar(&force, "force", false, "also delete the grants that target the collection")
	var depth int32
	tree := &cobra.Command{Use: "tree [ROOT]", Short: "Draw the collection tree", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root := "/"
			if len(args) == 1 {
				root = args[0]
			}
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.CollectionNode, error) {
				return cols(c).GetCollectionTree(ctx, &v1.GetCollectionTreeRequest{Root: root, Depth: depth})
			}, func(w io.Writer, n *v1.CollectionNode) error {
				fmt.Fprintln(w, n.GetPath())
				drawTree(w, n.GetChildren(), "")
				return nil
			})
		}}
	tree.Flags().Int32Var(&depth, "depth", 0, "how many levels to draw (0: all)")
	cmd.AddCommand(ls, mk, get, del, tree)
	return cmd
}

// drawTree draws children under their parent with box-drawing guides.
func drawTree(w io.Writer, nodes []*v1.CollectionNode, indent string) {
	for i, n := range nodes {
		branch, next := "├── ", "│   "
		if i == len(nodes)-1 {
			branch, next = "└── ", "    "
		}
		path := n.GetPath()
		fmt.Fprintln(w, indent+branch+path[strings.LastIndex(path, "/")+1:])
		drawTree(w, n.GetChildren(), indent+next)
	}
}

func newRolesCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "roles", Aliases: []string{"role"}, Short: "Manage roles and list the operation catalog"}
	roles := func(conn *grpc.ClientConn) v1.RoleServiceClient { return v1.NewRoleServiceClient(conn) }
	ls := &cobra.Command{Use: "list", Short: "List roles", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ListRolesResponse, error) {
				return roles(c).ListRoles(ctx, &v1.ListRolesRequest{})
			}, func(w io.Writer, r *v1.ListRolesResponse) error {
				t := newTable(w, "NAME", "DISPLAY NAME", "BUILT-IN", "OPERATIONS")
				for _, x := range r.GetRoles() {
					t.row(x.GetName(), x.GetDisplayName(), x.GetBuiltin(), len(x.GetPermissions()))
				}
				return t.flush()
			})
		}}
	get := &cobra.Command{Use: "get NAME", Short: "Show a role's operations and options", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.Role, error) {
				return roles(c).GetRole(ctx, &v1.GetRoleRequest{Name: args[0]})
			}, func(w io.Writer, r *v1.Role) error {
				fmt.Fprintf(w, "%s (%s, built-in: %s)\n\n", r.GetName(), cell(r.GetDisplayName()), cell(r.GetBuiltin()))
				t := newTable(w, "OPERATION", "OPTIONS")
				for _, p := range r.GetPermissions() {
					t.row(p.GetOperation(), p.GetOptions())
				}
				return t.flush()
			})
		}}
	var displayName string
	var perms []string
	mk := &cobra.Command{Use: "create NAME --permission OPERATION[:OPTION,...] ...", Short: "Create a custom role from catalog operations",
		Args: cobra.ExactArgs(1),
		Example: "  grantctl roles create developer --permission container.logs \\\n" +
			"      --permission container.create:privileged --permission container.view",
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &v1.CreateRoleRequest{Name: args[0], DisplayName: displayName}
			for _, p := range perms {
				op, opts, _ := strings.Cut(p, ":")
				perm := &v1.Permission{Operation: op}
				if opts != "" {
					perm.Options = strings.Split(opts, ",")
				}
				req.Permissions = append(req.Permissions, perm)
			}
			if len(req.Permissions) == 0 {
				return fmt.Errorf("give at least one --permission (see grantctl roles operations)")
			}
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.CreateRoleResponse, error) {
				return roles(c).CreateRole(ctx, req)
			}, "Created role %s", args[0])
		}}
	mk.Flags().StringVar(&displayName, "display-name", "", "a name for people")
	mk.Flags().StringArrayVar(&perms, "permission", nil, "an operation, with its allowed options after a colon (repeatable)")
	del := &cobra.Command{Use: "delete NAME", Short: "Delete a custom role no grant uses", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.DeleteRoleResponse, error) {
				return roles(c).DeleteRole(ctx, &v1.DeleteRoleRequest{Name: args[0]})
			}, "Deleted role %s", args[0])
		}}
	ops := &cobra.Command{Use: "operations", Short: "List the operation catalog roles are made of", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ListOperationsResponse, error) {
				return roles(c).ListOperations(ctx, &v1.ListOperationsRequest{})
			}, func(w io.Writer, r *v1.ListOperationsResponse) error {
				t := newTable(w, "OPERATION", "KIND", "OPTIONS", "RESERVED")
				for _, o := range r.GetOperations() {
					t.row(o.GetId(), o.GetObjectKind(), o.GetOptions(), o.GetReserved())
				}
				return t.flush()
			})
		}}
	cmd.AddCommand(ls, get, mk, del, ops)
	return cmd
}

func newGrantsCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "grants", Aliases: []string{"grant"}, Short: "Manage grants: subject × role × object"}
	grants := func(conn *grpc.ClientConn) v1.GrantServiceClient { return v1.NewGrantServiceClient(conn) }
	printGrants := func(w io.Writer, gs ...*v1.Grant) error {
		t := newTable(w, "ID", "SUBJECT", "ROLE", "OBJECT", "SCOPE", "VIA")
		for _, x := range gs {
			t.row(x.GetId(), x.GetSubject(), x.GetRole(), x.GetObject(), x.GetScope(), x.GetVia())
		}
		return t.flush()
	}
	var list v1.ListGrantsRequest
	var page pageFlags
	ls := &cobra.Command{Use: "list", Short: "List grants, filtered by subject, object or role", Args: cobra.NoArgs,
		Example: "  grantctl grants list --subject user:maria --expand-user\n  grantctl grants list --object collection:/production",
		RunE: func(cmd *cobra.Command, _ []string) error {
			list.PageSize, list.PageToken = page.size, page.token
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ListGrantsResponse, error) {
				return grants(c).ListGrants(ctx, &list)
			}, func(w io.Writer, r *v1.ListGrantsResponse) error {
				err := printGrants(w, r.GetGrants()...)
				morePages(w, r.GetNextPageToken())
				return err
			})
		}}
	ls.Flags().StringVar(&list.Subject, "subject", "", "only grants to this subject (user:, team:, org:, serviceaccount:)")
	ls.Flags().StringVar(&list.Object, "object", "", "only grants on this object (collection:, repository:, namespace:)")
	ls.Flags().StringVar(&list.Role, "role", "", "only grants of this role")
	ls.Flags().BoolVar(&list.ExpandUser, "expand-user", false, "with --subject user:X, also the grants X holds through teams, orgs and authenticated")
	page.add(ls)
	var scope string
	mk := &cobra.Command{Use: "create SUBJECT ROLE OBJECT", Short: "Grant a role to a subject on an object", Args: cobra.ExactArgs(3),
		Example: "  grantctl grants create team:acme/web restrictedcontrol collection:/production/mobile\n" +
			"  grantctl grants create user:ops1 fullcontrol collection:/staging --scope exact",
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.CreateGrantResponse, error) {
				return grants(c).CreateGrant(ctx, &v1.CreateGrantRequest{Subject: args[0], Role: args[1], Object: args[2], Scope: scope})
			}, func(w io.Writer, r *v1.CreateGrantResponse) error {
				fmt.Fprintf(w, "Created grant %s (revision %d)\n", r.GetGrant().GetId(), r.GetRevision())
				return nil
			})
		}}
	mk.Flags().StringVar(&scope, "scope", "", "subtree (default: the collection and its descendants) or exact")
	get := &cobra.Command{Use: "get ID", Short: "Show a grant", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.Grant, error) {
				return grants(c).GetGrant(ctx, &v1.GetGrantRequest{Id: args[0]})
			}, func(w io.Writer, x *v1.Grant) error { return printGrants(w, x) })
		}}
	del := &cobra.Command{Use: "delete ID", Short: "Delete a grant", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.DeleteGrantResponse, error) {
				return grants(c).DeleteGrant(ctx, &v1.DeleteGrantRequest{Id: args[0]})
			}, "Deleted grant %s", args[0])
		}}
	cmd.AddCommand(ls, mk, get, del)
	return cmd
}
