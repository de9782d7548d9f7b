package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

func newPolicyCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Work with the compiled policy"}
	var file string
	export := &cobra.Command{
		Use:   "export",
		Short: "Write the policy and its data as an OPA bundle that stock OPA evaluates like grantd",
		Example: `  grantctl policy export -f grantd-bundle.tar.gz
  opa run --server --bundle grantd-bundle.tar.gz   # then query data.grantd.authz.decision`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return fmt.Errorf("-f/--file is required")
			}
			conn, ctx, err := g.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer conn.Close()
			resp, err := v1.NewPolicyServiceClient(conn).ExportPolicy(ctx, &v1.ExportPolicyRequest{})
			if err != nil {
				return explain(err)
			}
			if err := os.WriteFile(file, resp.GetBundle(), 0o600); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Wrote %s (revision %d); evaluate %s.\n", file, resp.GetRevision(), resp.GetEntrypoint())
			return nil
		},
	}
	export.Flags().StringVarP(&file, "file", "f", "", "where to write the bundle (.tar.gz)")
	cmd.AddCommand(export)
	return cmd
}
