package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

func newBundleCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "bundle", Short: "Client bundles: certificates for the Docker CLI against daemons that ask grantd"}
	printBundles := func(w io.Writer, bs ...*v1.Bundle) error {
		t := newTable(w, "SERIAL", "OWNER", "LABEL", "VALID FROM", "VALID UNTIL", "REVOKED")
		for _, b := range bs {
			t.row(b.GetSerial(), b.GetOwner(), b.GetLabel(), b.GetNotBefore(), b.GetNotAfter(), b.GetRevoked())
		}
		return t.flush()
	}
	// createFile makes a file that must not exist yet, before the server
	// is asked: a bundle holds a private key, so nothing is overwritten by
	// accident, and no certificate is issued that could not be saved.
	createFile := func(path string, mode os.FileMode) (*os.File, error) {
		return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	}
	writeTo := func(f *os.File, data []byte) error {
		_, err := f.Write(data)
		return errors.Join(err, f.Close())
	}

	var owner, label, out string
	var days int32
	create := &cobra.Command{Use: "create", Short: "Create a key pair and certificate; write the bundle zip", Args: cobra.NoArgs,
		Example: "  grantctl bundle create -o bundle.zip --label laptop\n" +
			"  unzip bundle.zip -d bundle && cd bundle && eval \"$(<env.sh)\" && docker ps\n" +
			"  grantctl bundle create --owner serviceaccount:ci -o ci-bundle.zip   # system admins",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("-o FILE is required: where to write the bundle zip")
			}
			f, err := createFile(out, 0o600)
			if err != nil {
				return err
			}
			ok := false
			defer func() {
				if !ok {
					_ = f.Close()
					_ = os.Remove(out)
				}
			}()
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.CreateBundleResponse, error) {
				return v1.NewBundleServiceClient(c).CreateBundle(ctx, &v1.CreateBundleRequest{Owner: owner, Label: label, ValidityDays: days})
			}, func(w io.Writer, r *v1.CreateBundleResponse) error {
				ok = true
				if err := writeTo(f, r.GetZip()); err != nil {
					return err
				}
				fmt.Fprintf(w, "Wrote %s (key.pem, cert.pem, ca.pem, env.sh, env.ps1)\n", out)
				return printBundles(w, r.GetBundle())
			})
		}}
	// -o names the zip here, shadowing the global output format: a zip has
	// no JSON form.
	create.Flags().StringVarP(&out, "output", "o", "", "where to write the bundle zip (must not exist)")
	create.Flags().StringVar(&owner, "owner", "", "user:<name> or serviceaccount:<name> (default: you; others need system admin)")
	create.Flags().StringVar(&label, "label", "", "a label to recognise the bundle by")
	create.Flags().Int32Var(&days, "days", 0, "validity in days (default and maximum: the server's --bundle-validity)")

	var keyFile, certOut string
	register := &cobra.Command{Use: "register", Short: "Certify a public key or CSR you hold; write the certificate", Args: cobra.NoArgs,
		Example: "  openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out key.pem\n" +
			"  openssl req -new -key key.pem -subj /CN=me -out me.csr\n" +
			"  grantctl bundle register -f me.csr --cert-out cert.pem --label yubikey",
		RunE: func(cmd *cobra.Command, _ []string) error {
			pemText, err := os.ReadFile(keyFile)
			if err != nil {
				return err
			}
			var f *os.File
			if certOut != "" {
				if f, err = createFile(certOut, 0o644); err != nil {
					return err
				}
				defer func() {
					if f != nil {
						_ = f.Close()
						_ = os.Remove(certOut)
					}
				}()
			}
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.RegisterPublicKeyResponse, error) {
				return v1.NewBundleServiceClient(c).RegisterPublicKey(ctx, &v1.RegisterPublicKeyRequest{Owner: owner, Label: label,
					Pem: string(pemText), ValidityDays: days})
			}, func(w io.Writer, r *v1.RegisterPublicKeyResponse) error {
				if f == nil {
					_, err := fmt.Fprint(w, r.GetCertificatePem())
					return err
				}
				err := writeTo(f, []byte(r.GetCertificatePem()))
				f = nil
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "Wrote %s\n", certOut)
				return printBundles(w, r.GetBundle())
			})
		}}
	register.Flags().StringVarP(&keyFile, "file", "f", "", "PEM public key or certificate request")
	_ = register.MarkFlagRequired("file")
	register.Flags().StringVar(&certOut, "cert-out", "", "where to write the certificate (default: standard output)")
	register.Flags().StringVar(&owner, "owner", "", "user:<name> or serviceaccount:<name> (default: you)")
	register.Flags().StringVar(&label, "label", "", "a label to recognise the certificate by")
	register.Flags().Int32Var(&days, "days", 0, "validity in days (default and maximum: the server's --bundle-validity)")

	var all bool
	list := &cobra.Command{Use: "list", Short: "List bundles (yours by default)", Args: cobra.NoArgs,
		Example: "  grantctl bundle list\n  grantctl bundle list --owner serviceaccount:ci\n  grantctl bundle list --all",
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := owner
			if all {
				o = "*"
			}
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ListBundlesResponse, error) {
				return v1.NewBundleServiceClient(c).ListBundles(ctx, &v1.ListBundlesRequest{Owner: o})
			}, func(w io.Writer, r *v1.ListBundlesResponse) error { return printBundles(w, r.GetBundles()...) })
		}}
	list.Flags().StringVar(&owner, "owner", "", "whose bundles (system admins)")
	list.Flags().BoolVar(&all, "all", false, "every account's bundles (system admins)")

	relabel := &cobra.Command{Use: "label SERIAL LABEL", Short: "Change a bundle's label", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.UpdateBundleResponse, error) {
				return v1.NewBundleServiceClient(c).UpdateBundle(ctx, &v1.UpdateBundleRequest{Serial: args[0], Label: args[1]})
			}, func(w io.Writer, r *v1.UpdateBundleResponse) error { return printBundles(w, r.GetBundle()) })
		}}
	revoke := &cobra.Command{Use: "revoke SERIAL", Short: "Revoke a bundle: every daemon asking grantd refuses it at once", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.RevokeBundleResponse, error) {
				return v1.NewBundleServiceClient(c).RevokeBundle(ctx, &v1.RevokeBundleRequest{Serial: args[0]})
			}, func(w io.Writer, r *v1.RevokeBundleResponse) error {
				_, err := fmt.Fprintf(w, "Revoked %s (revision %d)\n", args[0], r.GetRevision())
				return err
			})
		}}
	ca := &cobra.Command{Use: "ca", Short: "Print the client CA certificate, which daemons trust (dockerd --tlscacert)", Args: cobra.NoArgs,
		Example: "  grantctl bundle ca > /etc/docker/grantd-client-ca.pem",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(g, cmd, func(ctx context.Context, c *grpc.ClientConn) (*v1.ClientCA, error) {
				return v1.NewBundleServiceClient(c).GetClientCA(ctx, &v1.GetClientCARequest{})
			}, func(w io.Writer, r *v1.ClientCA) error {
				_, err := fmt.Fprint(w, r.GetCaPem())
				return err
			})
		}}
	cmd.AddCommand(create, register, list, relabel, revoke, ca)
	return cmd
}
