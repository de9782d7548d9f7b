package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/grantd/grantd/authn"
	"github.com/grantd/grantd/store"
)

// runAdmin is `grantd admin reset-password [--data-dir DIR]
// [--password-stdin]`: the local way back in when the recovery admin's
// password is lost or its logins are throttled. It works on the data
// directory while no grantd runs on it (the store refuses a directory in
// use), so only someone with the server's files can use it.
func runAdmin(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "reset-password" {
		fmt.Fprintln(stderr, "usage: grantd admin reset-password [--data-dir DIR] [--password-stdin]")
		return errors.New("grantd admin: the only subcommand is reset-password")
	}
	fs := flag.NewFlagSet("grantd admin reset-password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "./grantd-data", "data directory of the stopped grantd")
	fromStdin := fs.Bool("password-stdin", false, "read the new password from the first line of standard input")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `usage: grantd admin reset-password [--data-dir DIR] [--password-stdin]

Sets a new password for the recovery admin %q on a stopped grantd's data
directory, keeps the account an active system admin and ends its
sessions. The password comes from --password-stdin, else from
GRANTD_ADMIN_PASSWORD, else a random one is printed once.
`, authn.RecoveryAdmin)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	password := getenv("GRANTD_ADMIN_PASSWORD")
	if *fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		password = strings.TrimRight(line, "\r\n")
		if password == "" {
			return errors.New("--password-stdin: no password on standard input")
		}
	}
	cfg := store.DefaultConfig(filepath.Join(*dataDir, "raft"))
	cfg.Logger = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	st, err := store.Open(cfg)
	if err != nil {
		return fmt.Errorf("%w (stop grantd first: the reset works on its data directory)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = st.WaitReady(ctx)
	var generated string
	if err == nil {
		generated, err = authn.ResetRecoveryAdmin(ctx, st, password, time.Now())
	}
	if closeErr := st.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return err
	}
	if generated != "" {
		fmt.Fprintf(stdout, "The recovery admin %q now has the password: %s\nIt is shown only this once.\n", authn.RecoveryAdmin, generated)
	} else {
		fmt.Fprintf(stdout, "The recovery admin %q has the new password.\n", authn.RecoveryAdmin)
	}
	fmt.Fprintln(stdout, "Its sessions have ended; the reset is in the audit log.")
	return nil
}
