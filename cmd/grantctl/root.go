package main

import (
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
	root.AddCommand(newLoginCommand(g), newLogoutCommand(g), newWhoAmICommand(g), newPolicyCommand(g))
	return root
}
