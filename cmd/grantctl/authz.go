package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

// accessLabel is the resource label that names a collection.
const accessLabel = "com.docker.ucp.access.label"

// errDenied ends `grantctl check` with exit status 3 after a denial, so
// scripts tell "denied" (3) from "could not ask" (1).
var errDenied = errors.New("denied")

// resourceFlags name the resource of a decision.
type resourceFlags struct {
	collection, repository string
	labels, options        []string
	secrets                []string
	minRevision            uint64
}

func (r *resourceFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&r.collection, "collection", "", "the resource's collection, e.g. /production/mobile")
	f.StringArrayVar(&r.labels, "label", nil, "a resource label key=value; a bare value is the access label (repeatable)")
	f.StringVar(&r.repository, "repository", "", "a registry repository namespace/name")
	f.StringSliceVar(&r.options, "option", nil, "sub-options the request uses, e.g. privileged")
	f.StringSliceVar(&r.secrets, "secret", nil, "collections of secrets the request references")
	f.Uint64Var(&r.minRevision, "min-revision", 0, "wait until the server has applied this revision")
}

func (r *resourceFlags) request(subject, operation string) *v1.AuthorizeRequest {
	req := &v1.AuthorizeRequest{Subject: subject, Operation: operation, Options: r.options, Secrets: r.secrets,
		MinRevision: r.minRevision, Resource: &v1.Resource{Collection: r.collection, Repository: r.repository}}
	for _, l := range r.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			k, v = accessLabel, l
		}
		if req.Resource.Labels == nil {
			req.Resource.Labels = map[string]string{}
		}
		req.Resource.Labels[k] = v
	}
	return req
}

func newCheckCommand(g *globals) *cobra.Command {
	var res resourceFlags
	cmd := &cobra.Command{Use: "check SUBJECT OPERATION", Short: "Ask whether a subject may perform an operation on a resource",
		Long: "Ask grantd for a decision. Exit status: 0 allowed, 3 denied, 1 when the question could not be asked.",
		Args: cobra.ExactArgs(2),
		Example: "  grantctl check user:maria service.create --collection /production/mobile\n" +
			"  grantctl check user:paolo container.create --collection /staging/payments --option privileged\n" +
			"  grantctl check user:maria container.view --label /production/mobile\n" +
			"  grantctl check user:maria repository.pull --repository acme/app",
		RunE: func(cmd *cobra.Command, args []string) error {
			req := res.request(args[0], args[1])
			allowed := false
			err := run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.AuthorizeResponse, error) {
				r, err := v1.NewAuthzServiceClient(c).Authorize(ctx, req)
				allowed = err == nil && r.GetAllowed()
				return r, err
			}, func(w io.Writer, r *v1.AuthorizeResponse) error {
				verdict := "denied"
				if r.GetAllowed() {
					verdict = "allowed"
				}
				fmt.Fprintf(w, "%s: %s (revision %d)\n", verdict, r.GetReason(), r.GetRevision())
				if len(r.GetSchedulableCollections()) > 0 {
					fmt.Fprintf(w, "may schedule on: %s\n", strings.Join(r.GetSchedulableCollections(), ", "))
				}
				return nil
			})
			if err == nil && !allowed {
				return errDenied
			}
			return err
		}}
	res.add(cmd)
	return cmd
}

func newExplainCommand(g *globals) *cobra.Command {
	var res resourceFlags
	cmd := &cobra.Command{Use: "explain SUBJECT OPERATION", Short: "Explain a decision: the grants behind it, or what is missing",
		Args:    cobra.ExactArgs(2),
		Example: "  grantctl explain user:maria container.exec --collection /production/mobile",
		RunE: func(cmd *cobra.Command, args []string) error {
			req := res.request(args[0], args[1])
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ExplainResponse, error) {
				return v1.NewAuthzServiceClient(c).Explain(ctx, req)
			}, func(w io.Writer, r *v1.ExplainResponse) error {
				verdict := "denied"
				if r.GetAllowed() {
					verdict = "allowed"
				}
				fmt.Fprintf(w, "%s: %s (revision %d)\n", verdict, r.GetReason(), r.GetRevision())
				if r.GetAllowedBy() != "" {
					fmt.Fprintf(w, "allowed by: %s\n", r.GetAllowedBy())
				}
				if r.GetMissingOperation() != "" {
					fmt.Fprintf(w, "missing operation: %s\n", r.GetMissingOperation())
				}
				if len(r.GetMissingOptions()) > 0 {
					fmt.Fprintf(w, "missing options: %s\n", strings.Join(r.GetMissingOptions(), ", "))
				}
				if len(r.GetGrants()) == 0 {
					return nil
				}
				fmt.Fprintln(w)
				return contributions(w, r.GetGrants())
			})
		}}
	res.add(cmd)
	return cmd
}

func contributions(w io.Writer, cs []*v1.Contribution) error {
	t := newTable(w, "GRANT", "THROUGH", "ROLE", "OBJECT", "SCOPE", "OPTIONS")
	for _, c := range cs {
		t.row(c.GetGrantId(), c.GetSubjectPath(), c.GetRole(), c.GetObject(), c.GetScope(), c.GetOptions())
	}
	return t.flush()
}

func newWhoCanCommand(g *globals) *cobra.Command {
	var options []string
	var page pageFlags
	cmd := &cobra.Command{Use: "who-can OPERATION OBJECT", Short: "List every user who may perform an operation on an object, and through which grants",
		Args: cobra.ExactArgs(2),
		Example: "  grantctl who-can container.exec collection:/production/payments\n" +
			"  grantctl who-can repository.push repository:acme/app",
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ListAccessResponse, error) {
				return v1.NewAuthzServiceClient(c).ListAccess(ctx, &v1.ListAccessRequest{Operation: args[0], Object: args[1],
					Options: options, PageSize: page.size, PageToken: page.token})
			}, func(w io.Writer, r *v1.ListAccessResponse) error {
				t := newTable(w, "USER", "ADMIN", "THROUGH")
				for _, e := range r.GetEntries() {
					var via []string
					for _, c := range e.GetGrants() {
						via = append(via, c.GetSubjectPath()+" "+c.GetRole()+" "+c.GetObject())
					}
					if e.GetIsAdmin() {
						via = append(via, "system admin")
					}
					t.row(e.GetUser(), e.GetIsAdmin(), strings.Join(via, "; "))
				}
				err := t.flush()
				morePages(w, r.GetNextPageToken())
				return err
			})
		}}
	cmd.Flags().StringSliceVar(&options, "option", nil, "sub-options the operation must allow")
	page.add(cmd)
	return cmd
}

func newPermissionsCommand(g *globals) *cobra.Command {
	var collection string
	cmd := &cobra.Command{Use: "permissions SUBJECT --collection PATH", Short: "Show a subject's effective permissions at a collection, and where each comes from",
		Args:    cobra.ExactArgs(1),
		Example: "  grantctl permissions user:maria --collection /production/mobile",
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.GetEffectivePermissionsResponse, error) {
				return v1.NewAuthzServiceClient(c).GetEffectivePermissions(ctx,
					&v1.GetEffectivePermissionsRequest{Subject: args[0], Collection: collection})
			}, func(w io.Writer, r *v1.GetEffectivePermissionsResponse) error {
				if r.GetIsAdmin() {
					fmt.Fprintf(w, "%s is a system admin: every operation everywhere.\n", r.GetSubject())
				}
				t := newTable(w, "OPERATION", "OPTIONS", "FROM")
				for _, p := range r.GetPermissions() {
					var from []string
					for _, s := range p.GetSources() {
						from = append(from, s.GetSubjectPath()+" "+s.GetRole()+" "+s.GetObject())
					}
					t.row(p.GetOperation(), p.GetOptions(), strings.Join(from, "; "))
				}
				return t.flush()
			})
		}}
	cmd.Flags().StringVar(&collection, "collection", "/", "the collection")
	return cmd
}
