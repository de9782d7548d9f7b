package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	v1 "github.com/grantd/grantd/proto/grantd/v1"
)

func newLoginCommand(g *globals) *cobra.Command {
	var username string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to a grantd server and keep the session token",
		Example: `  grantctl login --server localhost:8443 --ca-cert grantd-data/tls/ca.crt --username admin
  echo "$PASSWORD" | grantctl login --username ci --password-stdin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if username == "" {
				return fmt.Errorf("--username is required")
			}
			password, err := readPassword(cmd.InOrStdin(), cmd.ErrOrStderr(), passwordStdin)
			if err != nil {
				return err
			}
			s, err := g.target()
			if err != nil {
				return err
			}
			conn, err := dial(s)
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			resp, err := v1.NewAuthServiceClient(conn).Login(ctx, &v1.LoginRequest{Username: username, Password: password})
			if err != nil {
				return explain(err)
			}
			s.Token = resp.GetAuthToken()
			if err := g.store(s); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Logged in to %s as %s.\n", s.Server, username)
			return nil
		},
	}
	cmd.Flags().StringVarP(&username, "username", "u", "", "user to log in as")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	return cmd
}

func readPassword(in io.Reader, prompt io.Writer, fromStdin bool) (string, error) {
	if fromStdin {
		in = onlyReader{in} // never prompt
	}
	s, err := readSecrets(in, prompt, "Password")
	if err != nil {
		return "", err
	}
	return s[0], nil
}

// onlyReader hides that a reader is a terminal.
type onlyReader struct{ io.Reader }

// readSecrets prompts for each secret without echo on a terminal, and
// otherwise reads one line per secret from in.
func readSecrets(in io.Reader, prompt io.Writer, labels ...string) ([]string, error) {
	out := make([]string, len(labels))
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		for i, label := range labels {
			fmt.Fprint(prompt, label+": ")
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(prompt)
			if err != nil {
				return nil, err
			}
			out[i] = string(b)
		}
		return out, nil
	}
	r := bufio.NewReader(in)
	for i, label := range labels {
		line, err := r.ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			return nil, fmt.Errorf("reading %s from standard input: %w", strings.ToLower(label), err)
		}
		out[i] = strings.TrimRight(line, "\r\n")
	}
	return out, nil
}

func newLogoutCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "End the session and forget its token",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, ctx, err := g.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer conn.Close()
			if _, err := v1.NewAuthServiceClient(conn).Logout(ctx, &v1.LogoutRequest{}); err != nil {
				return explain(err)
			}
			s, err := g.target()
			if err != nil {
				return err
			}
			s.Token = ""
			return g.store(s)
		},
	}
}

func newWhoAmICommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show who the saved credentials belong to",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, ctx, err := g.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer conn.Close()
			resp, err := v1.NewAuthServiceClient(conn).WhoAmI(ctx, &v1.WhoAmIRequest{})
			if err != nil {
				return explain(err)
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (admin: %v, via %s)\n", resp.GetSubject(), resp.GetIsAdmin(), resp.GetMethod())
			return nil
		},
	}
}

func printJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.MarshalOptions{EmitDefaultValues: true}.Marshal(m)
	if err != nil {
		return err
	}
	var pretty any
	_ = json.Unmarshal(b, &pretty)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(pretty)
}

// explain turns a gRPC status into one clean message for people: a word
// for the code, then the server's message without a repeat of that word
// (the server's typed errors start with their own), and a hint where the
// next step is not obvious.
func explain(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	msg := st.Message()
	for _, prefix := range serverPrefixes {
		msg = strings.TrimPrefix(msg, prefix+": ")
	}
	what, ok := codeWords[st.Code()]
	if !ok {
		what = "error"
	}
	untrusted := strings.Contains(msg, "x509:")
	if untrusted {
		what = "cannot verify the server's certificate"
	}
	out := what + ": " + msg
	if what == "" {
		out = msg
	}
	if untrusted {
		out += "\nhint: grantctl does not trust the server's certificate; pass --ca-cert with grantd's CA " +
			"(grantd-data/tls/ca.crt in the server's data directory), once: `grantctl login --ca-cert FILE` remembers it"
	}
	return errors.New(out)
}

// serverPrefixes are the words the server's typed errors begin with.
var serverPrefixes = []string{"not found", "already exists", "conflict", "failed precondition", "invalid"}

var codeWords = map[codes.Code]string{
	codes.ResourceExhausted:  "", // the message says it: too many failed logins
	codes.DeadlineExceeded:   "timed out",
	codes.Internal:           "server error",
	codes.Canceled:           "canceled",
	codes.Unauthenticated:    "not authenticated",
	codes.PermissionDenied:   "permission denied",
	codes.NotFound:           "not found",
	codes.AlreadyExists:      "already exists",
	codes.InvalidArgument:    "invalid input",
	codes.FailedPrecondition: "not allowed",
	codes.Aborted:            "conflict",
	codes.Unavailable:        "server unavailable",
	codes.Unimplemented:      "not implemented by this server",
}
