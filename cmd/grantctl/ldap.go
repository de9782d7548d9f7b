package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

func newLDAPCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "ldap", Short: "Configure the directory integration, run syncs, read their reports"}
	cmd.AddCommand(newLDAPConfigCommand(g), newLDAPTestLoginCommand(g), newLDAPSyncCommand(g), newLDAPRunsCommand(g),
		newGroupSyncCommand(g, "team-sync", "ORG/TEAM", "a team's members"),
		newGroupSyncCommand(g, "org-admin-sync", "ORG", "an org's admins"))
	return cmd
}

func ldapClient(conn *grpc.ClientConn) v1.LDAPServiceClient { return v1.NewLDAPServiceClient(conn) }

// readConfigFile reads an LDAP configuration in the API's JSON form.
func readConfigFile(cmd *cobra.Command, path string) (*v1.LDAPConfig, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(cmd.InOrStdin())
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	cfg := &v1.LDAPConfig{}
	if err := protojson.Unmarshal(data, cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

func newLDAPConfigCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Show or replace the LDAP configuration"}
	get := &cobra.Command{Use: "get", Short: "Show the configuration as JSON (reader passwords are never shown)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.LDAPConfig, error) {
				return ldapClient(c).GetLDAPConfig(ctx, &v1.GetLDAPConfigRequest{})
			}, func(w io.Writer, r *v1.LDAPConfig) error { return printJSON(w, r) })
		}}
	var file string
	set := &cobra.Command{Use: "set -f FILE", Short: "Replace the configuration with a JSON file (- for stdin)", Args: cobra.NoArgs,
		Long: "Replace the whole LDAP configuration. The server checks it as a whole and lists every problem at once.\n" +
			"A server given without readerPassword keeps the password stored for the same URL.",
		Example: "  grantctl ldap config get > ldap.json   # edit it\n  grantctl ldap config set -f ldap.json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := readConfigFile(cmd, file)
			if err != nil {
				return err
			}
			return write(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.UpdateLDAPConfigResponse, error) {
				return ldapClient(c).UpdateLDAPConfig(ctx, &v1.UpdateLDAPConfigRequest{Config: cfg})
			}, "Updated the LDAP configuration")
		}}
	set.Flags().StringVarP(&file, "file", "f", "", "the configuration, as JSON")
	_ = set.MarkFlagRequired("file")
	cmd.AddCommand(get, set)
	return cmd
}

func newLDAPTestLoginCommand(g *globals) *cobra.Command {
	var file string
	var stdin bool
	cmd := &cobra.Command{Use: "test-login USERNAME", Short: "Find and bind a directory user, creating nothing", Args: cobra.ExactArgs(1),
		Long: "Check a configuration before saving it: find USERNAME with the user search configs and bind with the\n" +
			"password, then report the server, search config, DN and full name found. Exits 1 when the login fails.",
		Example: "  grantctl ldap test-login alice              # the stored configuration\n" +
			"  grantctl ldap test-login alice -f ldap.json  # a candidate",
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &v1.TestLDAPLoginRequest{Username: args[0]}
			if file != "" {
				cfg, err := readConfigFile(cmd, file)
				if err != nil {
					return err
				}
				req.Config = cfg
			}
			password, err := readPassword(cmd.InOrStdin(), cmd.ErrOrStderr(), stdin)
			if err != nil {
				return err
			}
			req.Password = password
			var failed error
			err = run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.TestLDAPLoginResponse, error) {
				r, err := ldapClient(c).TestLDAPLogin(ctx, req)
				if err == nil && !r.GetOk() {
					failed = fmt.Errorf("login failed: %s", r.GetError())
				}
				return r, err
			}, func(w io.Writer, r *v1.TestLDAPLoginResponse) error {
				if !r.GetOk() {
					return nil
				}
				t := newTable(w, "USERNAME", "FULL NAME", "DN", "SERVER", "SEARCH CONFIG")
				t.row(r.GetUsername(), r.GetFullName(), r.GetDn(), r.GetServer(), r.GetSearchConfigIndex())
				return t.flush()
			})
			if err != nil {
				return err
			}
			return failed
		}}
	cmd.Flags().StringVarP(&file, "file", "f", "", "a candidate configuration (JSON file); default the stored one")
	cmd.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from standard input")
	return cmd
}

// printRun prints a sync run's report.
func printRun(w io.Writer, r *v1.LDAPSyncRun) error {
	fmt.Fprintf(w, "Sync run %d: %s (scope %s, started by %s", r.GetId(), r.GetState(), r.GetScope(), r.GetTrigger())
	if r.GetForced() {
		fmt.Fprint(w, ", forced")
	}
	fmt.Fprintln(w, ")")
	if r.GetState() == "running" {
		return nil
	}
	fmt.Fprintf(w, "Started %s, ended %s; %d changes written at revision %d\n", r.GetStartedAt(), r.GetEndedAt(),
		r.GetChanges(), r.GetRevision())
	c := r.GetCounts()
	t := newTable(w, "STEP", "COUNT")
	for _, row := range []struct {
		name string
		n    int32
	}{
		{"users created", c.GetCreated()}, {"users updated", c.GetUpdated()}, {"users deactivated", c.GetDeactivated()},
		{"users reactivated", c.GetReactivated()}, {"admins added", c.GetAdminsAdded()}, {"admins removed", c.GetAdminsRemoved()},
		{"org admins added", c.GetOrgAdminsAdded()}, {"org admins removed", c.GetOrgAdminsRemoved()},
		{"team memberships added", c.GetMembershipsAdded()}, {"team memberships removed", c.GetMembershipsRemoved()},
		{"invalid names skipped", c.GetSkippedInvalidNames()},
		{"not in the org, skipped", c.GetSkippedNotOrgMembers()},
	} {
		t.row(row.name, strconv.Itoa(int(row.n)))
	}
	err := t.flush()
	for _, e := range r.GetErrors() {
		fmt.Fprintln(w, "error:", e)
	}
	for _, e := range r.GetWarnings() {
		fmt.Fprintln(w, "warning:", e)
	}
	return err
}

func newLDAPSyncCommand(g *globals) *cobra.Command {
	var wait, force bool
	var timeout time.Duration
	cmd := &cobra.Command{Use: "sync", Short: "Run a sync now (or join the one running)", Args: cobra.NoArgs,
		Long: "Start a sync run. With --wait, print its report when it ends and exit 1 if it failed, so that\n" +
			"cron can run it:\n\n  0 * * * *  grantctl ldap sync --wait >> /var/log/grantd-ldap-sync.log 2>&1",
		Example: "  grantctl ldap sync --wait\n  grantctl ldap sync --wait --force   # past the deactivation threshold",
		RunE: func(cmd *cobra.Command, _ []string) error {
			var failed error
			err := runFor(g, cmd, timeout, func(ctx context.Context, c *grpc.ClientConn) (*v1.LDAPSyncRun, error) {
				r, err := ldapClient(c).StartLDAPSync(ctx, &v1.StartLDAPSyncRequest{Wait: wait, Force: force})
				if err == nil && r.GetState() == "failed" {
					failed = fmt.Errorf("sync run %d failed: %s", r.GetId(), strings.Join(r.GetErrors(), "; "))
				}
				return r, err
			}, printRun)
			if err != nil {
				return err
			}
			return failed
		}}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the run to end, print its report, exit 1 if it failed")
	cmd.Flags().BoolVar(&force, "force", false, "apply the run even past the deactivation threshold")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "how long to wait")
	return cmd
}

func newLDAPRunsCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "runs", Short: "Read the reports of the last 50 sync runs"}
	var limit int32
	ls := &cobra.Command{Use: "list", Short: "List sync runs, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ListLDAPSyncsResponse, error) {
				return ldapClient(c).ListLDAPSyncs(ctx, &v1.ListLDAPSyncsRequest{Limit: limit})
			}, func(w io.Writer, r *v1.ListLDAPSyncsResponse) error {
				t := newTable(w, "ID", "STATE", "SCOPE", "TRIGGER", "STARTED", "ENDED", "CHANGES", "ERRORS")
				for _, x := range r.GetRuns() {
					t.row(x.GetId(), x.GetState(), x.GetScope(), x.GetTrigger(), x.GetStartedAt(), x.GetEndedAt(),
						x.GetChanges(), len(x.GetErrors()))
				}
				return t.flush()
			})
		}}
	ls.Flags().Int32Var(&limit, "limit", 0, "at most this many (default all kept)")
	get := &cobra.Command{Use: "get ID", Short: "Show one run's report", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("run ID %q is not a number", args[0])
			}
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.LDAPSyncRun, error) {
				return ldapClient(c).GetLDAPSync(ctx, &v1.GetLDAPSyncRequest{Id: id})
			}, printRun)
		}}
	cmd.AddCommand(ls, get)
	return cmd
}

// newGroupSyncCommand is `ldap team-sync` or `ldap org-admin-sync`: the
// same setting, on a team's members or an org's admins.
func newGroupSyncCommand(g *globals, name, arg, what string) *cobra.Command {
	team := name == "team-sync"
	cmd := &cobra.Command{Use: name, Short: "Show or set how " + what + " follow the directory"}
	target := func(a string) (org, t string, err error) {
		if !team {
			return a, "", nil
		}
		org, t, ok := strings.Cut(a, "/")
		if !ok || org == "" || t == "" {
			return "", "", fmt.Errorf("want ORG/TEAM, not %q", a)
		}
		return org, t, nil
	}
	printSync := func(w io.Writer, s *v1.LDAPGroupSync) error {
		t := newTable(w, "ENABLED", "MODE", "GROUP / SEARCH BASE", "MEMBER ATTR / FILTER", "SUBTREE")
		if s.GetGroupDn() != "" {
			t.row(s.GetEnabled(), "group", s.GetGroupDn(), s.GetGroupMemberAttr(), "-")
		} else {
			t.row(s.GetEnabled(), "search", s.GetSearchBaseDn(), s.GetSearchFilter(), s.GetSearchScopeSubtree())
		}
		return t.flush()
	}
	get := &cobra.Command{Use: "get " + arg, Short: "Show the setting", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			org, t, err := target(args[0])
			if err != nil {
				return err
			}
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.LDAPGroupSync, error) {
				if team {
					return ldapClient(c).GetTeamLDAPSync(ctx, &v1.GetTeamLDAPSyncRequest{Org: org, Team: t})
				}
				return ldapClient(c).GetOrgAdminSync(ctx, &v1.GetOrgAdminSyncRequest{Org: org})
			}, printSync)
		}}
	var s v1.LDAPGroupSync
	var off, now bool
	example := "  grantctl ldap team-sync set acme/web --group-dn cn=web,ou=groups,dc=example,dc=com --sync-now\n" +
		"  grantctl ldap team-sync set acme/web --search-base-dn ou=people,dc=example,dc=com --filter '(department=web)' --subtree\n" +
		"  grantctl ldap team-sync set acme/web --off"
	if !team {
		example = strings.ReplaceAll(strings.ReplaceAll(example, "team-sync", "org-admin-sync"), "acme/web", "acme")
	}
	set := &cobra.Command{Use: "set " + arg, Short: "Turn the sync on (group or search mode) or off", Args: cobra.ExactArgs(1),
		Example: example,
		RunE: func(cmd *cobra.Command, args []string) error {
			org, t, err := target(args[0])
			if err != nil {
				return err
			}
			s.Enabled = !off
			if s.Enabled && s.GroupDn == "" && s.SearchBaseDn == "" {
				return fmt.Errorf("give --group-dn, or --search-base-dn (with --filter), or --off")
			}
			timeout := callTimeout
			if now {
				timeout = 30 * time.Minute
			}
			return runFor(g, cmd, timeout, func(ctx context.Context, c *grpc.ClientConn) (*v1.LDAPGroupSync, error) {
				if team {
					r, err := ldapClient(c).UpdateTeamLDAPSync(ctx, &v1.UpdateTeamLDAPSyncRequest{Org: org, Team: t, Sync: &s, SyncNow: now})
					return r.GetSync(), err
				}
				r, err := ldapClient(c).UpdateOrgAdminSync(ctx, &v1.UpdateOrgAdminSyncRequest{Org: org, Sync: &s, SyncNow: now})
				return r.GetSync(), err
			}, printSync)
		}}
	f := set.Flags()
	f.StringVar(&s.GroupDn, "group-dn", "", "group mode: the group whose members are selected")
	f.StringVar(&s.GroupMemberAttr, "member-attr", "", "group mode: the attribute holding member DNs (default member)")
	f.StringVar(&s.SearchBaseDn, "search-base-dn", "", "search mode: where to search")
	f.StringVar(&s.SearchFilter, "filter", "", "search mode: LDAP filter (default every entry in scope)")
	f.BoolVar(&s.SearchScopeSubtree, "subtree", false, "search mode: the whole subtree, not one level")
	f.BoolVar(&off, "off", false, "turn the sync off")
	f.BoolVar(&now, "sync-now", false, "run the sync right after saving")
	cmd.AddCommand(get, set)
	return cmd
}
