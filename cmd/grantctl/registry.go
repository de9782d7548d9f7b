package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

func newRegistryCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "registry", Short: "The registry token service's keys"}
	printSigning := func(w io.Writer, s *v1.TokenSigning) error {
		t := newTable(w, "ISSUER", "ALGORITHM", "SIGNING KEY VALID UNTIL")
		t.row(s.GetIssuer(), s.GetAlgorithm(), s.GetSigningNotAfter())
		return t.flush()
	}
	var rootOnly bool
	get := &cobra.Command{Use: "token-signing", Short: "Show the token signing key, or the root certificate registries trust", Args: cobra.NoArgs,
		Example: "  grantctl registry token-signing --root-cert > /etc/docker/registry/grantd-root.crt",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.TokenSigning, error) {
				return v1.NewRegistryServiceClient(c).GetTokenSigning(ctx, &v1.GetTokenSigningRequest{})
			}, func(w io.Writer, s *v1.TokenSigning) error {
				if rootOnly {
					_, err := fmt.Fprint(w, s.GetRootCertPem())
					return err
				}
				return printSigning(w, s)
			})
		}}
	get.Flags().BoolVar(&rootOnly, "root-cert", false, "print only the root certificate (PEM), for the registry's rootcertbundle")
	var algorithm string
	rotate := &cobra.Command{Use: "rotate-key", Short: "Replace the token signing key; the root and tokens already issued stay valid", Args: cobra.NoArgs,
		Example: "  grantctl registry rotate-key\n  grantctl registry rotate-key --algorithm RS256",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.RotateTokenSigningKeyResponse, error) {
				return v1.NewRegistryServiceClient(c).RotateTokenSigningKey(ctx, &v1.RotateTokenSigningKeyRequest{Algorithm: algorithm})
			}, func(w io.Writer, r *v1.RotateTokenSigningKeyResponse) error {
				fmt.Fprintf(w, "Rotated the token signing key (revision %d)\n", r.GetRevision())
				return printSigning(w, r.GetSigning())
			})
		}}
	rotate.Flags().StringVar(&algorithm, "algorithm", "", "ES256 or RS256 (default: the server's configured algorithm)")
	cmd.AddCommand(get, rotate)
	return cmd
}
