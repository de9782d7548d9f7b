package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// globals are the flags every command shares.
type globals struct {
	server string
	caCert string
	output string
	config string
}

func newRootCommand() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "grantctl",
		Short:         "grantctl manages and queries a grantd server",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.server, "server", "", "grantd address host:port (default: the one saved by login, else localhost:8443)")
	root.PersistentFlags().StringVar(&g.caCert, "ca-cert", "", "CA certificate to trust for the server (default: the one saved by login, else the system roots)")
	root.PersistentFlags().StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	root.PersistentFlags().StringVar(&g.config, "config", "", "grantctl config file (default: <user config dir>/grantd/grantctl.json)")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if g.output != "table" && g.output != "json" {
			return fmt.Errorf("-o/--output must be table or json, not %q", g.output)
		}
		return nil
	}
	root.AddGroup(&cobra.Group{ID: "ask", Title: "Decisions:"}, &cobra.Group{ID: "manage", Title: "Administration:"},
		&cobra.Group{ID: "session", Title: "Session:"})
	for group, cmds := range map[string][]*cobra.Command{
		"session": {newLoginCommand(g), newLogoutCommand(g), newWhoAmICommand(g), newSessionsCommand(g)},
		"ask":     {newCheckCommand(g), newExplainCommand(g), newWhoCanCommand(g), newPermissionsCommand(g)},
		"manage": {newUsersCommand(g), newOrgsCommand(g), newTeamsCommand(g), newServiceAccountsCommand(g),
			newTokensCommand(g), newCollectionsCommand(g), newRolesCommand(g), newGrantsCommand(g), newReposCommand(g),
			newSettingsCommand(g), newAuditCommand(g), newPolicyCommand(g), newLDAPCommand(g), newRegistryCommand(g), newBundleCommand(g)},
	} {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	return root
}
