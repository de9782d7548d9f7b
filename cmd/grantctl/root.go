package main

import (
	"fmt"
	"strings"

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
	root.PersistentFlags().StringVar(&g.server, "server", "", "grantd address host:port, or a cluster's nodes separated by commas (default: the one saved by login, else localhost:8443)")
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
			newSettingsCommand(g), newAuditCommand(g), newPolicyCommand(g), newLDAPCommand(g), newRegistryCommand(g), newBundleCommand(g), newClusterCommand(g), newBackupCommand(g), newKubernetesCommand(g),
			newApplyCommand(g), newDiffCommand(g), newExportCommand(g)},
	} {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	refuseUnknownSubcommands(root)
	return root
}

// refuseUnknownSubcommands makes every command group fail on a word that
// is not one of its subcommands, with the nearest ones, instead of
// printing its help and exiting 0 (`grantctl grants creat …`).
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.SuggestionsMinimumDistance = 2
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if near := cmd.SuggestionsFor(args[0]); len(near) > 0 {
			msg += `; did you mean "` + strings.Join(near, `" or "`) + `"?`
		}
		return fmt.Errorf("%s (see %s --help)", msg, cmd.CommandPath())
	}
}
